package dev.sandboxes.operator.codeexecution;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sandboxes.api.ApiConstants;
import dev.sandboxes.api.v1alpha1.ArgumentsSource;
import dev.sandboxes.api.v1alpha1.CodeExecutionReason;
import dev.sandboxes.api.v1alpha1.CodeExecutionSpec;
import dev.sandboxes.api.v1alpha1.CodeSource;
import dev.sandboxes.api.v1alpha1.ConfigMapKeyReference;
import dev.sandboxes.api.v1alpha1.SecretKeyReference;
import dev.sandboxes.operator.provider.ReferencedObjects;
import java.util.Map;
import java.util.Optional;

/**
 * The code and arguments of an execution after following codeFrom and argumentsFrom. Resolution
 * either succeeds, waits for a missing object (it may be applied later, as in GitOps), fails for
 * good (the referenced value is unusable), or is refused (a Secret that did not opt in).
 *
 * <p>The operator reads Secrets with its own rights, which are wider than those of whoever creates
 * CodeExecutions. So it reads a Secret for an execution only when the Secret says it may be read
 * that way (label sandboxes.dev/execution-input: "true"); otherwise anyone allowed to create
 * CodeExecutions could have any Secret of the namespace returned as a result.
 *
 * @param codeFromSecret whether the code came from a Secret: its source lines must not be echoed
 *     back (tracebacks), see ExecutionRequest#hideSource
 */
public record ExecutionInputs(String code, JsonNode arguments, boolean codeFromSecret) {

  private static final ObjectMapper JSON = new ObjectMapper();

  /** The result of resolving: inputs, or a problem that waits, or a problem that is final. */
  public sealed interface Resolution {}

  /** Both code and arguments are available. */
  public record Resolved(ExecutionInputs inputs) implements Resolution {}

  /** A referenced object or key does not exist yet; try again later. */
  public record Missing(String message) implements Resolution {}

  /** A referenced value exists but cannot be used: InvalidSpec. */
  public record Invalid(String message) implements Resolution {}

  /**
   * A referenced Secret (or ConfigMap of arguments) did not opt in to execution input: final.
   *
   * @param reason SecretNotAllowed or ConfigMapNotAllowed
   */
  public record NotAllowed(String message, CodeExecutionReason reason) implements Resolution {
    /** A Secret that did not opt in. */
    public NotAllowed(String message) {
      this(message, CodeExecutionReason.SECRET_NOT_ALLOWED);
    }
  }

  /** Resolves code and arguments; never logs or returns their values in messages. */
  public static Resolution resolve(
      String namespace, CodeExecutionSpec spec, ReferencedObjects objects) {
    String code = spec.getCode();
    boolean codeFromSecret = false;
    CodeSource from = spec.getCodeFrom();
    if (code == null && from != null) {
      if (from.getConfigMapKeyRef() != null) {
        String name = from.getConfigMapKeyRef().getName();
        String key = from.getConfigMapKeyRef().getKey();
        Optional<Map<String, String>> data = objects.configMap(namespace, name);
        if (data.isEmpty()) {
          return new Missing(
              "ConfigMap " + name + " (spec.codeFrom.configMapKeyRef) does not exist; create it");
        }
        code = data.get().get(key);
        if (code == null) {
          return new Missing(
              "ConfigMap " + name + " has no key " + key + " (spec.codeFrom.configMapKeyRef.key)");
        }
      } else {
        SecretKeyReference ref = from.getSecretKeyRef();
        Lookup lookup = secretValue(namespace, ref, "spec.codeFrom.secretKeyRef", objects);
        if (lookup.problem() != null) {
          return lookup.problem();
        }
        code = lookup.value();
        codeFromSecret = true;
      }
    }
    ObjectNode arguments;
    if (spec.getArgumentsJSON() != null) {
      // The validator has checked it; a spec that skipped validation still gets a clear answer.
      ArgumentsJson.Parsed parsed = ArgumentsJson.parse(spec.getArgumentsJSON());
      if (parsed.problem() != null) {
        return new Invalid("spec.argumentsJSON " + parsed.problem());
      }
      arguments = parsed.object();
    } else {
      arguments =
          spec.getArguments() == null
              ? JSON.createObjectNode()
              : JSON.valueToTree(spec.getArguments());
    }
    ArgumentsSource argumentsFrom = spec.getArgumentsFrom();
    if (argumentsFrom != null) {
      Lookup lookup;
      String what;
      if (argumentsFrom.getConfigMapKeyRef() != null) {
        ConfigMapKeyReference ref = argumentsFrom.getConfigMapKeyRef();
        lookup = configMapValue(namespace, ref, objects);
        what = "ConfigMap " + ref.getName() + " key " + ref.getKey();
      } else {
        SecretKeyReference ref = argumentsFrom.getSecretKeyRef();
        lookup = secretValue(namespace, ref, "spec.argumentsFrom.secretKeyRef", objects);
        what = "Secret " + ref.getName() + " key " + ref.getKey();
      }
      if (lookup.problem() != null) {
        return lookup.problem();
      }
      ArgumentsJson.Parsed parsed = ArgumentsJson.parse(lookup.value());
      if (parsed.problem() != null) {
        // The location only: the value may be confidential.
        return new Invalid(what + " " + parsed.problem());
      }
      arguments.setAll(parsed.object());
    }
    return new Resolved(new ExecutionInputs(code, arguments, codeFromSecret));
  }

  /** A Secret key's value, or why it cannot be had. */
  private record Lookup(String value, Resolution problem) {}

  /** A ConfigMap key's value for argumentsFrom, under the same opt-in rule as Secrets. */
  private static Lookup configMapValue(
      String namespace, ConfigMapKeyReference ref, ReferencedObjects objects) {
    String field = "spec.argumentsFrom.configMapKeyRef";
    Optional<ReferencedObjects.ExecutionSecret> configMap =
        objects.executionConfigMap(namespace, ref.getName());
    if (configMap.isEmpty()) {
      return new Lookup(
          null,
          new Missing("ConfigMap " + ref.getName() + " (" + field + ") does not exist; create it"));
    }
    if (!configMap.get().allowed()) {
      return new Lookup(
          null,
          new NotAllowed(
              "ConfigMap "
                  + ref.getName()
                  + " ("
                  + field
                  + ") does not carry the label "
                  + ApiConstants.EXECUTION_INPUT_LABEL
                  + ": \""
                  + ApiConstants.EXECUTION_INPUT_VALUE
                  + "\", so the operator does not"
                  + " read it for executions (arguments can come back as the result); if its owner means it to be an execution"
                  + " input, they add the label",
              CodeExecutionReason.CONFIG_MAP_NOT_ALLOWED));
    }
    String value = configMap.get().data().get(ref.getKey());
    if (value == null) {
      return new Lookup(
          null,
          new Missing(
              "ConfigMap "
                  + ref.getName()
                  + " has no key "
                  + ref.getKey()
                  + " ("
                  + field
                  + ".key)"));
    }
    return new Lookup(value, null);
  }

  /**
   * The label is checked before the key, so that an execution learns nothing about the keys of a
   * Secret it may not read; only whether a Secret of that name exists.
   */
  private static Lookup secretValue(
      String namespace, SecretKeyReference ref, String field, ReferencedObjects objects) {
    Optional<ReferencedObjects.ExecutionSecret> secret =
        objects.executionSecret(namespace, ref.getName());
    if (secret.isEmpty()) {
      return new Lookup(
          null,
          new Missing("Secret " + ref.getName() + " (" + field + ") does not exist; create it"));
    }
    if (!secret.get().allowed()) {
      return new Lookup(
          null,
          new NotAllowed(
              "Secret "
                  + ref.getName()
                  + " ("
                  + field
                  + ") does not carry the label "
                  + ApiConstants.EXECUTION_INPUT_LABEL
                  + ": \""
                  + ApiConstants.EXECUTION_INPUT_VALUE
                  + "\", so the operator does not"
                  + " read it for executions; if its owner means it to be an execution input, they add the label (then anyone"
                  + " who can create CodeExecutions in this namespace can use its values)"));
    }
    String value = secret.get().data().get(ref.getKey());
    if (value == null) {
      return new Lookup(
          null,
          new Missing(
              "Secret " + ref.getName() + " has no key " + ref.getKey() + " (" + field + ".key)"));
    }
    return new Lookup(value, null);
  }
}
