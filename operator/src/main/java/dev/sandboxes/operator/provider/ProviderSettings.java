package dev.sandboxes.operator.provider;

import dev.sandboxes.api.v1alpha1.DockerSpec;
import dev.sandboxes.api.v1alpha1.E2bSpec;
import dev.sandboxes.api.v1alpha1.ExecutionLimits;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.OutputLimitAction;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.api.v1alpha1.RuntimeSpec;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.api.v1alpha1.SandboxProviderSpec;
import dev.sandboxes.api.v1alpha1.SelfManagedSpec;
import dev.sandboxes.operator.config.OperatorConfig;
import dev.sandboxes.operator.runner.ArtifactLimits;
import java.util.EnumMap;
import java.util.Map;
import java.util.Optional;

/**
 * A SandboxProvider's spec with every default applied, in one place. The CRD schema declares some
 * of these defaults too, but the mock server and `run` apply none, so the operator never relies on
 * them.
 */
public record ProviderSettings(
    String namespace,
    String name,
    ProviderType type,
    Limits limits,
    Map<Language, Runtime> runtimes) {

  public static final int DEFAULT_TIMEOUT_SECONDS = 10;
  public static final int DEFAULT_MAX_TIMEOUT_SECONDS = 300;

  /** AgentRun's synchronous execution cap. */
  public static final int ALIYUN_MAX_TIMEOUT_SECONDS = 30;

  public static final int DEFAULT_MAX_OUTPUT_BYTES = 65536;
  public static final int DEFAULT_MAX_CODE_BYTES = 262144;
  public static final int DEFAULT_POOL_SIZE = 2;
  public static final String DEFAULT_E2B_TEMPLATE = "code-interpreter-v1";

  /** Effective limits. maxConcurrentExecutions is null for "no limit besides the pool". */
  public record Limits(
      int defaultTimeoutSeconds,
      int maxTimeoutSeconds,
      int maxOutputBytes,
      int maxCodeBytes,
      Integer maxConcurrentExecutions,
      OutputLimitAction outputLimitAction,
      int maxArtifacts,
      int maxArtifactBytes) {

    /** Where runners collect files and how many: the output directory is the same everywhere. */
    public ArtifactLimits artifactLimits() {
      return new ArtifactLimits(ArtifactLimits.DEFAULT_DIR, maxArtifacts, maxArtifactBytes);
    }
  }

  /** One served language: the image (pools) or template (SaaS) its sandboxes use. */
  public record Runtime(Language language, String image, String template) {}

  public static ProviderSettings of(SandboxProvider provider, OperatorConfig config) {
    SandboxProviderSpec spec = provider.getSpec();
    ProviderType type = spec.getType();
    return new ProviderSettings(
        provider.getMetadata().getNamespace(),
        provider.getMetadata().getName(),
        type,
        limits(type, spec.getLimits()),
        runtimes(spec, config));
  }

  private static Limits limits(ProviderType type, ExecutionLimits limits) {
    ExecutionLimits l = limits == null ? new ExecutionLimits() : limits;
    int maxTimeout =
        or(
            l.getMaxTimeoutSeconds(),
            type == ProviderType.ALIYUN ? ALIYUN_MAX_TIMEOUT_SECONDS : DEFAULT_MAX_TIMEOUT_SECONDS);
    int defaultTimeout =
        or(l.getDefaultTimeoutSeconds(), Math.min(DEFAULT_TIMEOUT_SECONDS, maxTimeout));
    return new Limits(
        defaultTimeout,
        maxTimeout,
        or(l.getMaxOutputBytes(), DEFAULT_MAX_OUTPUT_BYTES),
        or(l.getMaxCodeBytes(), DEFAULT_MAX_CODE_BYTES),
        l.getMaxConcurrentExecutions(),
        l.getOutputLimitAction() == null ? OutputLimitAction.TRUNCATE : l.getOutputLimitAction(),
        or(l.getMaxArtifacts(), ArtifactLimits.DEFAULT_MAX_ARTIFACTS),
        or(l.getMaxArtifactBytes(), (int) ArtifactLimits.DEFAULT_MAX_ARTIFACT_BYTES));
  }

  private static Map<Language, Runtime> runtimes(SandboxProviderSpec spec, OperatorConfig config) {
    Map<Language, Runtime> runtimes = new EnumMap<>(Language.class);
    String defaultTemplate = defaultTemplate(spec);
    if (spec.getRuntimes() == null || spec.getRuntimes().isEmpty()) {
      for (Language language : Language.values()) {
        runtimes.put(
            language, new Runtime(language, config.defaultRuntimeImage(), defaultTemplate));
      }
      return runtimes;
    }
    for (RuntimeSpec runtime : spec.getRuntimes()) {
      if (runtime.getLanguage() == null) {
        continue; // reported by the validator
      }
      runtimes.put(
          runtime.getLanguage(),
          new Runtime(
              runtime.getLanguage(),
              runtime.getImage() == null ? config.defaultRuntimeImage() : runtime.getImage(),
              runtime.getTemplate() == null ? defaultTemplate : runtime.getTemplate()));
    }
    return runtimes;
  }

  private static String defaultTemplate(SandboxProviderSpec spec) {
    if (spec.getType() == ProviderType.E2B) {
      E2bSpec e2b = spec.getE2b();
      return e2b == null || e2b.getTemplate() == null ? DEFAULT_E2B_TEMPLATE : e2b.getTemplate();
    }
    if (spec.getType() == ProviderType.ALIYUN && spec.getAliyun() != null) {
      return spec.getAliyun().getTemplateName();
    }
    return null;
  }

  /** The runtime for a language, if this provider serves it. */
  public Optional<Runtime> runtime(Language language) {
    return Optional.ofNullable(runtimes.get(language));
  }

  /** Pool size of a SelfManaged or Docker provider. */
  public static int poolSize(SandboxProviderSpec spec) {
    if (spec.getType() == ProviderType.SELF_MANAGED) {
      SelfManagedSpec selfManaged = spec.getSelfManaged();
      return selfManaged == null
          ? DEFAULT_POOL_SIZE
          : or(selfManaged.getPoolSize(), DEFAULT_POOL_SIZE);
    }
    if (spec.getType() == ProviderType.DOCKER) {
      DockerSpec docker = spec.getDocker();
      return docker == null ? DEFAULT_POOL_SIZE : or(docker.getPoolSize(), DEFAULT_POOL_SIZE);
    }
    return 0;
  }

  /** "namespace/name", for messages and logs. */
  public String displayName() {
    return namespace + "/" + name;
  }

  static int or(Integer value, int fallback) {
    return value == null ? fallback : value;
  }
}
