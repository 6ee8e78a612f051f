package dev.sandboxes.operator.codeexecution;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sandboxes.api.v1alpha1.CodeExecutionSpec;
import dev.sandboxes.api.v1alpha1.CodeSource;
import dev.sandboxes.api.v1alpha1.ExecutionMode;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.operator.sandboxprovider.ProviderSettings;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Checks a CodeExecution spec, alone and against its provider. Repeats every schema and CEL rule
 * of the CRD (Kubernetes 1.20 drops CEL; the mock server and `run` validate nothing). Each problem
 * names the field and the fix.
 */
public final class CodeExecutionValidator {

  /** Largest arguments object, serialised; arguments live in the object, which etcd caps. */
  public static final int MAX_ARGUMENTS_BYTES = 512 * 1024;

  private static final Pattern ENTRYPOINT = Pattern.compile("^[A-Za-z_$][A-Za-z0-9_$]{0,127}$");
  private static final ObjectMapper JSON = new ObjectMapper();

  private CodeExecutionValidator() {}

  /** Problems visible in the spec alone; empty when valid. */
  public static List<String> validate(CodeExecutionSpec spec) {
    List<String> problems = new ArrayList<>();
    if (spec == null) {
      problems.add("spec is required");
      return problems;
    }
    if (spec.getLanguage() == null) {
      problems.add("spec.language is required: python or javascript");
    }
    boolean inline = spec.getCode() != null;
    CodeSource from = spec.getCodeFrom();
    if (inline == (from != null)) {
      problems.add("set exactly one of spec.code and spec.codeFrom");
    }
    if (from != null && (from.getConfigMapKeyRef() == null) == (from.getSecretKeyRef() == null)) {
      problems.add("spec.codeFrom needs exactly one of configMapKeyRef and secretKeyRef");
    }
    if (from != null && from.getConfigMapKeyRef() != null
        && (from.getConfigMapKeyRef().getName() == null || from.getConfigMapKeyRef().getKey() == null)) {
      problems.add("spec.codeFrom.configMapKeyRef needs name and key");
    }
    if (from != null && from.getSecretKeyRef() != null
        && (from.getSecretKeyRef().getName() == null || from.getSecretKeyRef().getKey() == null)) {
      problems.add("spec.codeFrom.secretKeyRef needs name and key");
    }
    if (inline && spec.getCode().isBlank()) {
      problems.add("spec.code is empty; put the program in it");
    }
    ExecutionMode mode = spec.getMode() == null ? ExecutionMode.FUNCTION : spec.getMode();
    if (spec.getEntrypoint() != null) {
      if (!ENTRYPOINT.matcher(spec.getEntrypoint()).matches()) {
        problems.add("spec.entrypoint must be a function name such as main (letters, digits, _ and $)");
      } else if (mode == ExecutionMode.SCRIPT) {
        problems.add("spec.entrypoint has no meaning in mode Script; remove it or use mode Function");
      }
    }
    if (spec.getArguments() != null) {
      int size = serialisedSize(spec.getArguments());
      if (size > MAX_ARGUMENTS_BYTES) {
        problems.add("spec.arguments is " + size + " bytes of JSON; at most " + MAX_ARGUMENTS_BYTES + " are allowed");
      }
      if (mode == ExecutionMode.SCRIPT && !spec.getArguments().isEmpty()) {
        problems.add("spec.arguments are passed to the entrypoint, which mode Script does not call; use mode Function");
      }
    }
    if (spec.getArgumentsFrom() != null
        && (spec.getArgumentsFrom().getSecretKeyRef() == null
            || spec.getArgumentsFrom().getSecretKeyRef().getName() == null
            || spec.getArgumentsFrom().getSecretKeyRef().getKey() == null)) {
      problems.add("spec.argumentsFrom.secretKeyRef needs name and key");
    }
    if (spec.getTimeoutSeconds() != null && spec.getTimeoutSeconds() < 1) {
      problems.add("spec.timeoutSeconds must be at least 1");
    }
    if (spec.getTtlSecondsAfterFinished() != null && spec.getTtlSecondsAfterFinished() < 0) {
      problems.add("spec.ttlSecondsAfterFinished must not be negative");
    }
    if (spec.getProviderRef() != null && spec.getProviderRef().getName() == null) {
      problems.add("spec.providerRef.name is required when providerRef is set");
    }
    return problems;
  }

  /** Problems of a valid spec on a particular provider, with the resolved code. */
  public static List<String> validateAgainst(
      CodeExecutionSpec spec, ProviderSettings provider, String code) {
    List<String> problems = new ArrayList<>();
    Language language = spec.getLanguage();
    if (provider.runtime(language).isEmpty()) {
      problems.add(
          "spec.language "
              + language
              + " is not served by SandboxProvider "
              + provider.name()
              + " (it serves "
              + provider.runtimes().keySet()
              + "); pick another provider or add the runtime");
    }
    Integer timeout = spec.getTimeoutSeconds();
    int max = provider.limits().maxTimeoutSeconds();
    if (timeout != null && timeout > max) {
      boolean serviceCap =
          provider.type() == ProviderType.ALIYUN && max == ProviderSettings.ALIYUN_MAX_TIMEOUT_SECONDS;
      problems.add(
          "spec.timeoutSeconds is "
              + timeout
              + " but SandboxProvider "
              + provider.name()
              + " allows at most "
              + max
              + (serviceCap
                  ? " (AgentRun runs code for at most 30 seconds; no setting raises that); lower it to 30 or less,"
                      + " or use a provider of another type"
                  : "; lower it or raise the provider's spec.limits.maxTimeoutSeconds"));
    }
    int codeBytes = code.getBytes(StandardCharsets.UTF_8).length;
    if (codeBytes > provider.limits().maxCodeBytes()) {
      problems.add(
          "the code is "
              + codeBytes
              + " bytes; SandboxProvider "
              + provider.name()
              + " accepts at most "
              + provider.limits().maxCodeBytes()
              + " (spec.limits.maxCodeBytes)");
    }
    return problems;
  }

  private static int serialisedSize(Object value) {
    try {
      return JSON.writeValueAsBytes(value).length;
    } catch (JsonProcessingException e) {
      return Integer.MAX_VALUE;
    }
  }
}
