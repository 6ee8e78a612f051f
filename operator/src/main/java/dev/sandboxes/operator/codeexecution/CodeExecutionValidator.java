package dev.sandboxes.operator.codeexecution;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sandboxes.api.v1alpha1.ArgumentsSource;
import dev.sandboxes.api.v1alpha1.CodeExecutionSpec;
import dev.sandboxes.api.v1alpha1.CodeSource;
import dev.sandboxes.api.v1alpha1.ConfigMapKeyReference;
import dev.sandboxes.api.v1alpha1.ExecutionMode;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.operator.provider.ProviderSettings;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Checks a CodeExecution spec, alone and against its provider. Repeats every schema and CEL rule of
 * the CRD (Kubernetes 1.20 drops CEL; the mock server and `run` validate nothing). Each problem
 * names the field and the fix.
 */
public final class CodeExecutionValidator {

  /** Largest arguments object, serialised; arguments live in the object, which etcd caps. */
  public static final int MAX_ARGUMENTS_BYTES = 512 * 1024;

  /**
   * Deepest arguments object: every level is a recursion in JSON parsers (the operator's and the
   * sandbox's: Python's json gives up near 1,000), and nothing real nests deeper than a few dozen.
   */
  public static final int MAX_ARGUMENTS_DEPTH = 64;

  /** Largest inline code, as in the CRD schema; the provider's maxCodeBytes may be lower. */
  public static final int MAX_CODE_BYTES = 262144;

  /** Longest object name or key a reference may name (a DNS subdomain; ConfigMap keys alike). */
  static final int MAX_NAME_LENGTH = 253;

  static final int MAX_TIMEOUT_SECONDS = 86400;
  static final int MAX_TTL_SECONDS = 31536000;

  /**
   * Default of spec.admissionTimeoutSeconds: how long an execution waits for a provider that cannot
   * start sandboxes.
   */
  public static final int DEFAULT_ADMISSION_TIMEOUT_SECONDS = 300;

  static final int MAX_ADMISSION_TIMEOUT_SECONDS = 86400;

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
    if (from != null
        && from.getConfigMapKeyRef() != null
        && (from.getConfigMapKeyRef().getName() == null
            || from.getConfigMapKeyRef().getKey() == null)) {
      problems.add("spec.codeFrom.configMapKeyRef needs name and key");
    }
    if (from != null
        && from.getSecretKeyRef() != null
        && (from.getSecretKeyRef().getName() == null || from.getSecretKeyRef().getKey() == null)) {
      problems.add("spec.codeFrom.secretKeyRef needs name and key");
    }
    if (inline && spec.getCode().isBlank()) {
      problems.add("spec.code is empty; put the program in it");
    }
    if (inline) {
      int codeBytes = spec.getCode().getBytes(StandardCharsets.UTF_8).length;
      if (codeBytes > MAX_CODE_BYTES) {
        problems.add(
            "spec.code is "
                + codeBytes
                + " bytes; at most "
                + MAX_CODE_BYTES
                + " are allowed inline (larger programs do not fit a Kubernetes object with their output)");
      }
    }
    if (from != null && from.getConfigMapKeyRef() != null) {
      nameLength(
          "spec.codeFrom.configMapKeyRef.name", from.getConfigMapKeyRef().getName(), problems);
      nameLength("spec.codeFrom.configMapKeyRef.key", from.getConfigMapKeyRef().getKey(), problems);
    }
    if (from != null && from.getSecretKeyRef() != null) {
      nameLength("spec.codeFrom.secretKeyRef.name", from.getSecretKeyRef().getName(), problems);
      nameLength("spec.codeFrom.secretKeyRef.key", from.getSecretKeyRef().getKey(), problems);
    }
    ExecutionMode mode = spec.getMode() == null ? ExecutionMode.FUNCTION : spec.getMode();
    if (spec.getEntrypoint() != null) {
      if (!ENTRYPOINT.matcher(spec.getEntrypoint()).matches()) {
        problems.add(
            "spec.entrypoint must be a function name such as main (letters, digits, _ and $)");
      } else if (mode == ExecutionMode.SCRIPT) {
        problems.add(
            "spec.entrypoint has no meaning in mode Script; remove it or use mode Function");
      }
    }
    if (spec.getArguments() != null) {
      int depth = depth(spec.getArguments());
      if (depth > MAX_ARGUMENTS_DEPTH) {
        problems.add(
            "spec.arguments nests "
                + depth
                + " levels deep; at most "
                + MAX_ARGUMENTS_DEPTH
                + " are allowed (pass deep structures as a JSON string)");
      }
      int size = serialisedSize(spec.getArguments());
      if (size > MAX_ARGUMENTS_BYTES) {
        problems.add(
            "spec.arguments is "
                + size
                + " bytes of JSON; at most "
                + MAX_ARGUMENTS_BYTES
                + " are allowed");
      }
      if (mode == ExecutionMode.SCRIPT && !spec.getArguments().isEmpty()) {
        problems.add(
            "spec.arguments are passed to the entrypoint, which mode Script does not call; use mode Function");
      }
    }
    if (spec.getArgumentsJSON() != null) {
      argumentsJson(spec, mode, problems);
    }
    ArgumentsSource argumentsFrom = spec.getArgumentsFrom();
    if (argumentsFrom != null
        && (argumentsFrom.getConfigMapKeyRef() == null)
            == (argumentsFrom.getSecretKeyRef() == null)) {
      problems.add("spec.argumentsFrom needs exactly one of configMapKeyRef and secretKeyRef");
    } else if (argumentsFrom != null && argumentsFrom.getConfigMapKeyRef() != null) {
      ConfigMapKeyReference ref = argumentsFrom.getConfigMapKeyRef();
      if (ref.getName() == null || ref.getKey() == null) {
        problems.add("spec.argumentsFrom.configMapKeyRef needs name and key");
      } else {
        nameLength("spec.argumentsFrom.configMapKeyRef.name", ref.getName(), problems);
        nameLength("spec.argumentsFrom.configMapKeyRef.key", ref.getKey(), problems);
      }
    } else if (argumentsFrom != null
        && (argumentsFrom.getSecretKeyRef().getName() == null
            || argumentsFrom.getSecretKeyRef().getKey() == null)) {
      problems.add("spec.argumentsFrom.secretKeyRef needs name and key");
    } else if (argumentsFrom != null) {
      nameLength(
          "spec.argumentsFrom.secretKeyRef.name",
          argumentsFrom.getSecretKeyRef().getName(),
          problems);
      nameLength(
          "spec.argumentsFrom.secretKeyRef.key",
          argumentsFrom.getSecretKeyRef().getKey(),
          problems);
    }
    if (spec.getTimeoutSeconds() != null && spec.getTimeoutSeconds() < 1) {
      problems.add("spec.timeoutSeconds must be at least 1");
    }
    if (spec.getTimeoutSeconds() != null && spec.getTimeoutSeconds() > MAX_TIMEOUT_SECONDS) {
      problems.add("spec.timeoutSeconds must be at most " + MAX_TIMEOUT_SECONDS);
    }
    if (spec.getAdmissionTimeoutSeconds() != null
        && (spec.getAdmissionTimeoutSeconds() < 1
            || spec.getAdmissionTimeoutSeconds() > MAX_ADMISSION_TIMEOUT_SECONDS)) {
      problems.add(
          "spec.admissionTimeoutSeconds must be between 1 and "
              + MAX_ADMISSION_TIMEOUT_SECONDS
              + " (default "
              + DEFAULT_ADMISSION_TIMEOUT_SECONDS
              + ")");
    }
    if (spec.getTtlSecondsAfterFinished() != null && spec.getTtlSecondsAfterFinished() < 0) {
      problems.add("spec.ttlSecondsAfterFinished must not be negative");
    }
    if (spec.getTtlSecondsAfterFinished() != null
        && spec.getTtlSecondsAfterFinished() > MAX_TTL_SECONDS) {
      problems.add("spec.ttlSecondsAfterFinished must be at most " + MAX_TTL_SECONDS + " (a year)");
    }
    if (spec.getProviderRef() != null && spec.getProviderRef().getName() == null) {
      problems.add("spec.providerRef.name is required when providerRef is set");
    } else if (spec.getProviderRef() != null) {
      nameLength("spec.providerRef.name", spec.getProviderRef().getName(), problems);
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
          provider.type() == ProviderType.ALIYUN
              && max == ProviderSettings.ALIYUN_MAX_TIMEOUT_SECONDS;
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

  /** spec.argumentsJSON: alone, one JSON object, within the limits spec.arguments has. */
  private static void argumentsJson(
      CodeExecutionSpec spec, ExecutionMode mode, List<String> problems) {
    if (spec.getArguments() != null) {
      problems.add(
          "set at most one of spec.arguments and spec.argumentsJSON (argumentsJSON replaces arguments; keep"
              + " argumentsJSON if some values are null)");
      return;
    }
    int size = spec.getArgumentsJSON().getBytes(StandardCharsets.UTF_8).length;
    if (size > MAX_ARGUMENTS_BYTES) {
      problems.add(
          "spec.argumentsJSON is "
              + size
              + " bytes; at most "
              + MAX_ARGUMENTS_BYTES
              + " are allowed");
      return;
    }
    ArgumentsJson.Parsed parsed = ArgumentsJson.parse(spec.getArgumentsJSON());
    if (parsed.problem() != null) {
      problems.add("spec.argumentsJSON " + parsed.problem());
      return;
    }
    int depth = depth(JSON.convertValue(parsed.object(), Object.class));
    if (depth > MAX_ARGUMENTS_DEPTH) {
      problems.add(
          "spec.argumentsJSON nests "
              + depth
              + " levels deep; at most "
              + MAX_ARGUMENTS_DEPTH
              + " are allowed");
    }
    if (mode == ExecutionMode.SCRIPT && !parsed.object().isEmpty()) {
      problems.add(
          "spec.argumentsJSON holds arguments for the entrypoint, which mode Script does not call; use mode"
              + " Function");
    }
  }

  private static void nameLength(String field, String value, List<String> problems) {
    if (value != null && value.length() > MAX_NAME_LENGTH) {
      problems.add(
          field
              + " is "
              + value.length()
              + " characters long; at most "
              + MAX_NAME_LENGTH
              + " are allowed");
    }
  }

  /** Nesting depth of a JSON value (the object itself is level 1); iterative, for any depth. */
  static int depth(Object root) {
    int deepest = 0;
    java.util.Deque<Object> values = new java.util.ArrayDeque<>();
    java.util.Deque<Integer> levels = new java.util.ArrayDeque<>();
    values.push(root);
    levels.push(1);
    while (!values.isEmpty()) {
      Object value = values.pop();
      int level = levels.pop();
      java.util.Collection<?> children =
          value instanceof java.util.Map<?, ?> map
              ? map.values()
              : value instanceof java.util.Collection<?> list ? list : null;
      if (children == null) {
        continue;
      }
      deepest = Math.max(deepest, level);
      for (Object child : children) {
        if (child != null) { // a JSON null is a leaf (and ArrayDeque takes no nulls)
          values.push(child);
          levels.push(level + 1);
        }
      }
    }
    return deepest;
  }

  private static int serialisedSize(Object value) {
    try {
      return JSON.writeValueAsBytes(value).length;
    } catch (JsonProcessingException e) {
      return Integer.MAX_VALUE;
    }
  }
}
