package dev.sandboxes.client;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.ArtifactStatus;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionReason;
import dev.sandboxes.api.v1alpha1.CodeExecutionSpec;
import dev.sandboxes.api.v1alpha1.CodeExecutionStatus;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.ConfigMapKeyReference;
import dev.sandboxes.api.v1alpha1.ExecutionMode;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.ProviderReference;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeoutException;

/**
 * Runs code through sandbox-operator from Java: {@code execute(code, language, arguments, timeout)}
 * creates a CodeExecution, waits for its final status through a watch (no polling loop), deletes it
 * unless asked to keep it, and returns a typed result or throws a typed exception.
 *
 * <pre>{@code
 * SandboxClient sandboxes = new SandboxClient(kubernetesClient, "agents");
 * ExecutionResult r = sandboxes.execute("def main(x):\n    return x * 2", Language.PYTHON, Map.of("x", 21),
 *     Duration.ofSeconds(10));
 * r.result().asInt(); // 42
 * }</pre>
 */
public final class SandboxClient {

  private final KubernetesClient client;
  private final String namespace;
  private final Options defaults;

  /** Per-call settings; the defaults keep nothing and use the namespace's default provider. */
  public record Options(
      String provider,
      ExecutionMode mode,
      String entrypoint,
      boolean keep,
      Duration queueAllowance,
      boolean failFastWithoutProvider) {
    public static Options defaults() {
      return new Options(null, ExecutionMode.FUNCTION, null, false, Duration.ofMinutes(5), true);
    }

    public Options withProvider(String provider) {
      return new Options(provider, mode, entrypoint, keep, queueAllowance, failFastWithoutProvider);
    }

    public Options withMode(ExecutionMode mode) {
      return new Options(provider, mode, entrypoint, keep, queueAllowance, failFastWithoutProvider);
    }

    public Options withEntrypoint(String entrypoint) {
      return new Options(provider, mode, entrypoint, keep, queueAllowance, failFastWithoutProvider);
    }

    /**
     * Keep the CodeExecution after it finished (for `kubectl get cx`); by default it is deleted.
     */
    public Options keepingTheExecution() {
      return new Options(provider, mode, entrypoint, true, queueAllowance, failFastWithoutProvider);
    }

    /**
     * How long an execution may wait for a sandbox before the client gives up, on top of its
     * timeout.
     */
    public Options withQueueAllowance(Duration allowance) {
      return new Options(provider, mode, entrypoint, keep, allowance, failFastWithoutProvider);
    }
  }

  public SandboxClient(KubernetesClient client, String namespace) {
    this(client, namespace, Options.defaults());
  }

  public SandboxClient(KubernetesClient client, String namespace, Options defaults) {
    this.client = Objects.requireNonNull(client);
    this.namespace = Objects.requireNonNull(namespace);
    this.defaults = Objects.requireNonNull(defaults);
  }

  /** Runs code in Function mode with the default options. */
  public ExecutionResult execute(
      String code, Language language, Map<String, ?> arguments, Duration timeout) {
    return execute(code, language, arguments, timeout, defaults);
  }

  /**
   * Runs code and returns its result when it succeeded.
   *
   * @throws SandboxExecutionException.CodeFailedException the code failed (see the result's stderr)
   * @throws SandboxExecutionException.TimedOutException the code hit its time limit
   * @throws SandboxExecutionException.InvalidExecutionException the request was rejected
   * @throws SandboxExecutionException.SandboxUnavailableException the sandbox or operator failed,
   *     or the execution did not finish within its timeout plus the queue allowance
   */
  public ExecutionResult execute(
      String code, Language language, Map<String, ?> arguments, Duration timeout, Options options) {
    CodeExecution created =
        client.resource(newExecution(code, language, arguments, timeout, options)).create();
    String name = created.getMetadata().getName();
    try {
      CodeExecution finished =
          await(name, timeout.plus(options.queueAllowance()), options.failFastWithoutProvider());
      return resultOrThrow(finished);
    } finally {
      if (!options.keep()) {
        client.resources(CodeExecution.class).inNamespace(namespace).withName(name).delete();
      }
    }
  }

  private CodeExecution await(String name, Duration limit, boolean failFast) {
    try {
      return StatusWait.until(
          client.resources(CodeExecution.class).inNamespace(namespace).withName(name),
          cx ->
              cx == null
                  || isFinal(cx.getStatus())
                  || (failFast && providerMissing(cx.getStatus())),
          limit);
    } catch (TimeoutException e) {
      throw new SandboxExecutionException.SandboxUnavailableException(
          "CodeExecution "
              + namespace
              + "/"
              + name
              + " did not finish within "
              + limit.toSeconds()
              + " s (its timeout plus the queue allowance); no sandbox may be free",
          null);
    }
  }

  private ExecutionResult resultOrThrow(CodeExecution cx) {
    if (cx == null) {
      throw new SandboxExecutionException.SandboxUnavailableException(
          "the CodeExecution was deleted before it finished", null);
    }
    CodeExecutionStatus status = cx.getStatus();
    ExecutionResult result = toResult(cx);
    if (providerMissing(status) && !isFinal(status)) {
      throw new SandboxExecutionException.InvalidExecutionException(status.getMessage(), result);
    }
    if (result.succeeded()) {
      return result;
    }
    String message = cx.getMetadata().getName() + ": " + result.reason() + ": " + result.message();
    switch (CodeExecutionReason.ofCondition(result.reason())
        .orElse(CodeExecutionReason.SANDBOX_FAILED)) {
      case USER_CODE_ERROR, OUT_OF_MEMORY, OUTPUT_LIMIT_EXCEEDED ->
          throw new SandboxExecutionException.CodeFailedException(message, result);
      case TIMED_OUT -> throw new SandboxExecutionException.TimedOutException(message, result);
      case INVALID_SPEC, PROVIDER_NOT_FOUND ->
          throw new SandboxExecutionException.InvalidExecutionException(message, result);
      default -> throw new SandboxExecutionException.SandboxUnavailableException(message, result);
    }
  }

  private CodeExecution newExecution(
      String code, Language language, Map<String, ?> arguments, Duration timeout, Options options) {
    CodeExecution cx = new CodeExecution();
    cx.setMetadata(
        new ObjectMetaBuilder().withGenerateName("exec-").withNamespace(namespace).build());
    CodeExecutionSpec spec = new CodeExecutionSpec();
    spec.setLanguage(language);
    spec.setCode(code);
    spec.setMode(options.mode());
    spec.setEntrypoint(options.entrypoint());
    if (arguments != null && !arguments.isEmpty()) {
      spec.setArguments(new LinkedHashMap<>(arguments));
    }
    spec.setTimeoutSeconds((int) Math.max(1, Math.min(Integer.MAX_VALUE, timeout.toSeconds())));
    if (options.provider() != null) {
      ProviderReference ref = new ProviderReference();
      ref.setName(options.provider());
      spec.setProviderRef(ref);
    }
    cx.setSpec(spec);
    return cx;
  }

  private ExecutionResult toResult(CodeExecution cx) {
    CodeExecutionStatus s = cx.getStatus();
    boolean succeeded = Conditions.isTrue(s.getConditions(), ConditionTypes.SUCCEEDED);
    String reason = Conditions.reason(s.getConditions(), ConditionTypes.SUCCEEDED);
    if (reason == null) {
      reason = Conditions.reason(s.getConditions(), ConditionTypes.ACCEPTED);
    }
    JsonNode result = s.getResult();
    return new ExecutionResult(
        cx.getMetadata().getName(),
        succeeded,
        reason,
        s.getMessage(),
        s.getExitCode(),
        nullToEmpty(s.getStdout()),
        nullToEmpty(s.getStderr()),
        orZero(s.getStdoutBytes()),
        orZero(s.getStderrBytes()),
        Boolean.TRUE.equals(s.getStdoutTruncated()),
        Boolean.TRUE.equals(s.getStderrTruncated()),
        result,
        s.getSandbox() == null ? null : s.getSandbox().getId(),
        s.getDurationMillis() == null ? null : Duration.ofMillis(s.getDurationMillis()),
        artifacts(cx));
  }

  /**
   * The artifacts listed in the status, with their bytes from the artifacts ConfigMap. Read before
   * the execution is deleted (the ConfigMap goes with it); needs get on configmaps.
   */
  private List<ExecutionArtifact> artifacts(CodeExecution cx) {
    List<ArtifactStatus> listed = cx.getStatus().getArtifacts();
    if (listed == null || listed.isEmpty()) {
      return List.of();
    }
    Map<String, ConfigMap> configMaps = new HashMap<>();
    List<ExecutionArtifact> artifacts = new ArrayList<>();
    for (ArtifactStatus artifact : listed) {
      byte[] bytes = null;
      ConfigMapKeyReference ref = artifact.getConfigMapKeyRef();
      if (ref != null && ref.getName() != null) {
        ConfigMap configMap =
            configMaps.computeIfAbsent(
                ref.getName(),
                name -> {
                  try {
                    return client.configMaps().inNamespace(namespace).withName(name).get();
                  } catch (KubernetesClientException e) {
                    return null; // e.g. forbidden: the listing still says what there was
                  }
                });
        String encoded =
            configMap == null || configMap.getBinaryData() == null
                ? null
                : configMap.getBinaryData().get(ref.getKey());
        bytes = encoded == null ? null : Base64.getDecoder().decode(encoded);
      }
      artifacts.add(
          new ExecutionArtifact(
              artifact.getName(),
              artifact.getSizeBytes() == null ? 0 : artifact.getSizeBytes(),
              artifact.getSha256(),
              artifact.getContentType(),
              bytes));
    }
    return artifacts;
  }

  private static boolean isFinal(CodeExecutionStatus status) {
    return status != null
        && Conditions.get(status.getConditions(), ConditionTypes.SUCCEEDED)
            .map(c -> !Conditions.UNKNOWN.equals(c.getStatus()))
            .orElse(false);
  }

  private static boolean providerMissing(CodeExecutionStatus status) {
    return status != null
        && CodeExecutionReason.PROVIDER_NOT_FOUND.is(
            Conditions.reason(status.getConditions(), ConditionTypes.ACCEPTED));
  }

  private static String nullToEmpty(String value) {
    return value == null ? "" : value;
  }

  private static long orZero(Long value) {
    return value == null ? 0 : value;
  }
}
