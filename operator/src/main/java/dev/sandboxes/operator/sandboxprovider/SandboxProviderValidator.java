package dev.sandboxes.operator.sandboxprovider;

import dev.sandboxes.api.v1alpha1.AliyunEgress;
import dev.sandboxes.api.v1alpha1.AliyunSpec;
import dev.sandboxes.api.v1alpha1.DockerSpec;
import dev.sandboxes.api.v1alpha1.E2bSpec;
import dev.sandboxes.api.v1alpha1.EgressPolicy;
import dev.sandboxes.api.v1alpha1.EgressSpec;
import dev.sandboxes.api.v1alpha1.ExecutionLimits;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.api.v1alpha1.RuntimeSpec;
import dev.sandboxes.api.v1alpha1.SandboxProviderSpec;
import dev.sandboxes.api.v1alpha1.SelfManagedSpec;
import dev.sandboxes.operator.backend.aliyun.AliyunSettings;
import dev.sandboxes.operator.provider.ProviderSettings;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Checks a SandboxProvider spec. Repeats every schema and CEL rule of the CRD, because Kubernetes
 * 1.20 drops CEL and the mock server and `run` validate nothing. Each problem names the field and
 * the fix.
 */
public final class SandboxProviderValidator {

  private static final Pattern CIDR =
      Pattern.compile("^(\\d{1,3}(\\.\\d{1,3}){3}/\\d{1,2}|[0-9a-fA-F:]+/\\d{1,3})$");
  private static final Pattern DOCKER_HOST = Pattern.compile("^(unix|tcp)://.+$");
  private static final Pattern NAME = Pattern.compile("^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$");
  private static final Pattern ALIYUN_REGION = Pattern.compile("^[a-z0-9-]+$");
  private static final Pattern ALIYUN_TEMPLATE = Pattern.compile("^[A-Za-z0-9_.-]{1,128}$");
  private static final Pattern ENDPOINT =
      Pattern.compile("^(https?://)?[A-Za-z0-9.-]+(:\\d{1,5})?/?$");
  private static final Pattern URL =
      Pattern.compile("^(https?://)?[A-Za-z0-9.-]+(:\\d{1,5})?(/[^\\s?#]*)?$");

  private SandboxProviderValidator() {}

  /** Problems in the spec; empty when valid. */
  public static List<String> validate(SandboxProviderSpec spec) {
    List<String> problems = new ArrayList<>();
    if (spec == null) {
      problems.add("spec is required");
      return problems;
    }
    if (spec.getType() == null) {
      problems.add("spec.type is required: one of SelfManaged, Docker, Aliyun, E2B");
      return problems;
    }
    validateRuntimes(spec, problems);
    validateLimits(spec.getType(), spec.getLimits(), problems);
    validateCanary(spec, problems);
    switch (spec.getType()) {
      case SELF_MANAGED -> validateSelfManaged(spec.getSelfManaged(), problems);
      case DOCKER -> validateDocker(spec.getDocker(), problems);
      case ALIYUN -> {
        validateAliyun(spec.getAliyun(), problems);
        validateTemplates(spec, problems);
      }
      case E2B -> validateE2b(spec.getE2b(), problems);
    }
    return problems;
  }

  private static void validateRuntimes(SandboxProviderSpec spec, List<String> problems) {
    if (spec.getRuntimes() == null) {
      return;
    }
    Set<Language> seen = EnumSet.noneOf(Language.class);
    for (int i = 0; i < spec.getRuntimes().size(); i++) {
      RuntimeSpec runtime = spec.getRuntimes().get(i);
      String field = "spec.runtimes[" + i + "]";
      if (runtime == null || runtime.getLanguage() == null) {
        problems.add(field + ".language is required: python or javascript");
        continue;
      }
      if (!seen.add(runtime.getLanguage())) {
        problems.add(
            field + ": language " + runtime.getLanguage() + " is listed twice; keep one entry");
      }
      boolean pool =
          spec.getType() == ProviderType.SELF_MANAGED || spec.getType() == ProviderType.DOCKER;
      if (pool && runtime.getTemplate() != null) {
        problems.add(field + ".template applies to Aliyun and E2B providers only; use image");
      }
      if (!pool && runtime.getImage() != null) {
        problems.add(
            field + ".image applies to SelfManaged and Docker providers only; use template");
      }
    }
  }

  private static void validateCanary(SandboxProviderSpec spec, List<String> problems) {
    if (spec.getCanary() == null) {
      return;
    }
    range(
        "spec.canary.intervalSeconds", spec.getCanary().getIntervalSeconds(), 30, 86400, problems);
    Language language = spec.getCanary().getLanguage();
    boolean served =
        spec.getRuntimes() == null
            || spec.getRuntimes().isEmpty()
            || spec.getRuntimes().stream().anyMatch(r -> r != null && r.getLanguage() == language);
    if (language != null && !served) {
      problems.add(
          "spec.canary.language is "
              + language.value()
              + " but spec.runtimes does not serve it; add that runtime"
              + " or pick a served language");
    }
  }

  private static void validateLimits(
      ProviderType type, ExecutionLimits limits, List<String> problems) {
    if (limits == null) {
      return;
    }
    Integer def = limits.getDefaultTimeoutSeconds();
    Integer max = limits.getMaxTimeoutSeconds();
    positive("spec.limits.defaultTimeoutSeconds", def, problems);
    positive("spec.limits.maxTimeoutSeconds", max, problems);
    if (type == ProviderType.ALIYUN
        && max != null
        && max > ProviderSettings.ALIYUN_MAX_TIMEOUT_SECONDS) {
      problems.add(
          "spec.limits.maxTimeoutSeconds is "
              + max
              + " but AgentRun runs code for at most "
              + ProviderSettings.ALIYUN_MAX_TIMEOUT_SECONDS
              + " seconds; set 30 or less");
    }
    int effectiveMax =
        max != null
            ? max
            : type == ProviderType.ALIYUN
                ? ProviderSettings.ALIYUN_MAX_TIMEOUT_SECONDS
                : ProviderSettings.DEFAULT_MAX_TIMEOUT_SECONDS;
    if (def != null && def > effectiveMax) {
      problems.add(
          "spec.limits.defaultTimeoutSeconds ("
              + def
              + ") is larger than maxTimeoutSeconds ("
              + effectiveMax
              + "); lower it or raise the maximum");
    }
    range("spec.limits.maxOutputBytes", limits.getMaxOutputBytes(), 1024, 262144, problems);
    range("spec.limits.maxCodeBytes", limits.getMaxCodeBytes(), 1, 262144, problems);
    range(
        "spec.limits.maxConcurrentExecutions",
        limits.getMaxConcurrentExecutions(),
        1,
        100000,
        problems);
    // Artifacts live in one ConfigMap (1 MiB) and are listed in the status: both bounds are hard.
    range("spec.limits.maxArtifacts", limits.getMaxArtifacts(), 0, 100, problems);
    range("spec.limits.maxArtifactBytes", limits.getMaxArtifactBytes(), 0, 1048576, problems);
  }

  private static void validateSelfManaged(SelfManagedSpec selfManaged, List<String> problems) {
    if (selfManaged == null) {
      return;
    }
    range("spec.selfManaged.poolSize", selfManaged.getPoolSize(), 0, 100, problems);
    range("spec.selfManaged.maxPoolSize", selfManaged.getMaxPoolSize(), 0, 100, problems);
    int poolSize =
        selfManaged.getPoolSize() == null
            ? ProviderSettings.DEFAULT_POOL_SIZE
            : selfManaged.getPoolSize();
    if (selfManaged.getMaxPoolSize() != null && selfManaged.getMaxPoolSize() < poolSize) {
      problems.add(
          "spec.selfManaged.maxPoolSize ("
              + selfManaged.getMaxPoolSize()
              + ") is below spec.selfManaged.poolSize ("
              + poolSize
              + "); raise it, or leave it out for a fixed pool");
    }
    range("spec.selfManaged.pidsLimit", selfManaged.getPidsLimit(), 16, 65536, problems);
    if (selfManaged.getRuntimeClassName() != null
        && !NAME.matcher(selfManaged.getRuntimeClassName()).matches()) {
      problems.add("spec.selfManaged.runtimeClassName is not a valid object name");
    }
    EgressSpec egress = selfManaged.getEgress();
    if (egress != null) {
      List<String> cidrs = egress.getAllowedCidrs() == null ? List.of() : egress.getAllowedCidrs();
      if (egress.getPolicy() == EgressPolicy.ALLOW_LIST && cidrs.isEmpty()) {
        problems.add(
            "spec.selfManaged.egress.allowedCidrs is empty; list the CIDRs to allow, or use policy Deny");
      }
      if (egress.getPolicy() != EgressPolicy.ALLOW_LIST && !cidrs.isEmpty()) {
        problems.add("spec.selfManaged.egress.allowedCidrs needs policy AllowList");
      }
      for (String cidr : cidrs) {
        if (cidr == null || !CIDR.matcher(cidr).matches()) {
          problems.add(
              "spec.selfManaged.egress.allowedCidrs: '"
                  + cidr
                  + "' is not a CIDR such as 10.0.0.0/8");
        }
      }
    }
  }

  private static void validateDocker(DockerSpec docker, List<String> problems) {
    if (docker == null) {
      problems.add("spec.docker is required when type is Docker: set at least spec.docker.host");
      return;
    }
    if (docker.getHost() == null || !DOCKER_HOST.matcher(docker.getHost()).matches()) {
      problems.add("spec.docker.host must be unix:///path/to/socket or tcp://host:port");
    }
    if (docker.getTlsSecretRef() != null
        && docker.getHost() != null
        && docker.getHost().startsWith("unix://")) {
      problems.add("spec.docker.tlsSecretRef applies to tcp:// hosts only");
    }
    range("spec.docker.poolSize", docker.getPoolSize(), 0, 100, problems);
    range("spec.docker.pidsLimit", docker.getPidsLimit(), 16, 65536, problems);
    range("spec.docker.cpuMillis", docker.getCpuMillis(), 100, 64000, problems);
    if (docker.getMemoryBytes() != null && docker.getMemoryBytes() < 16L * 1024 * 1024) {
      problems.add("spec.docker.memoryBytes must be at least 16777216 (16 MiB)");
    }
  }

  private static void validateAliyun(AliyunSpec aliyun, List<String> problems) {
    if (aliyun == null) {
      problems.add(
          "spec.aliyun is required when type is Aliyun: set spec.aliyun.credentialsSecretRef");
      return;
    }
    if (aliyun.getCredentialsSecretRef() == null
        || aliyun.getCredentialsSecretRef().getName() == null) {
      problems.add(
          "spec.aliyun.credentialsSecretRef.name is required: a Secret with accessKeyId, accessKeySecret and accountId");
    }
    if (aliyun.getRegion() != null && !ALIYUN_REGION.matcher(aliyun.getRegion()).matches()) {
      problems.add(
          "spec.aliyun.region must be a region id such as cn-hangzhou (is '"
              + aliyun.getRegion()
              + "')");
    }
    if (aliyun.getTemplateName() != null
        && !ALIYUN_TEMPLATE.matcher(aliyun.getTemplateName()).matches()) {
      problems.add(
          "spec.aliyun.templateName may hold letters, digits, '_', '.' and '-' (1 to 128)");
    }
    if (aliyun.getControlEndpoint() != null
        && !ENDPOINT.matcher(aliyun.getControlEndpoint()).matches()) {
      problems.add(
          "spec.aliyun.controlEndpoint must be host[:port] or http(s)://host[:port], without a path");
    }
    if (aliyun.getDataEndpoint() != null && !URL.matcher(aliyun.getDataEndpoint()).matches()) {
      problems.add("spec.aliyun.dataEndpoint must be host[:port][/path] or an http(s) URL");
    }
    if (aliyun.getEgress() != AliyunEgress.INTERNET
        && AliyunSettings.DEFAULT_INTERNET_TEMPLATE.equals(aliyun.getTemplateName())) {
      problems.add(publicTemplateWithoutEgress("spec.aliyun.templateName"));
    }
  }

  /**
   * The operator's internet template named while egress is Deny: the probe would refuse it anyway.
   */
  private static String publicTemplateWithoutEgress(String field) {
    return field
        + " names "
        + AliyunSettings.DEFAULT_INTERNET_TEMPLATE
        + ", the operator's template with internet access,"
        + " but spec.aliyun.egress is Deny; remove it, or set spec.aliyun.egress: Internet";
  }

  private static void validateTemplates(SandboxProviderSpec spec, List<String> problems) {
    if (spec.getType() != ProviderType.ALIYUN || spec.getRuntimes() == null) {
      return;
    }
    for (int i = 0; i < spec.getRuntimes().size(); i++) {
      RuntimeSpec runtime = spec.getRuntimes().get(i);
      if (runtime != null
          && runtime.getTemplate() != null
          && !ALIYUN_TEMPLATE.matcher(runtime.getTemplate()).matches()) {
        problems.add(
            "spec.runtimes["
                + i
                + "].template may hold letters, digits, '_', '.' and '-' (1 to 128)");
      }
      boolean internet =
          spec.getAliyun() != null && spec.getAliyun().getEgress() == AliyunEgress.INTERNET;
      if (runtime != null
          && !internet
          && AliyunSettings.DEFAULT_INTERNET_TEMPLATE.equals(runtime.getTemplate())) {
        problems.add(publicTemplateWithoutEgress("spec.runtimes[" + i + "].template"));
      }
    }
  }

  private static void validateE2b(E2bSpec e2b, List<String> problems) {
    if (e2b == null) {
      problems.add("spec.e2b is required when type is E2B: set spec.e2b.apiKeySecretRef");
      return;
    }
    if (e2b.getApiKeySecretRef() == null
        || e2b.getApiKeySecretRef().getName() == null
        || e2b.getApiKeySecretRef().getKey() == null) {
      problems.add(
          "spec.e2b.apiKeySecretRef needs name and key: the Secret key holding the API key");
    }
  }

  private static void positive(String field, Integer value, List<String> problems) {
    if (value != null && value < 1) {
      problems.add(field + " must be at least 1");
    }
  }

  private static void range(String field, Integer value, int min, int max, List<String> problems) {
    if (value != null && (value < min || value > max)) {
      problems.add(field + " must be between " + min + " and " + max + " (is " + value + ")");
    }
  }
}
