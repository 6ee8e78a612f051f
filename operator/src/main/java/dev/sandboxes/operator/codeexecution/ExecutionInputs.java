package dev.sandboxes.operator.codeexecution;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sandboxes.api.v1alpha1.CodeExecutionSpec;
import dev.sandboxes.api.v1alpha1.CodeSource;
import dev.sandboxes.api.v1alpha1.SecretKeyReference;
import java.io.IOException;
import java.util.Map;
import java.util.Optional;

/**
 * The code and arguments of an execution after following codeFrom and argumentsFrom. Resolution
 * either succeeds, waits for a missing object (it may be applied later, as in GitOps), or fails
 * for good (the referenced value is unusable).
 */
public record ExecutionInputs(String code, JsonNode arguments) {

  private static final ObjectMapper JSON = new ObjectMapper();

  /** The result of resolving: inputs, or a problem that waits, or a problem that is final. */
  public sealed interface Resolution {}

  /** Both code and arguments are available. */
  public record Resolved(ExecutionInputs inputs) implements Resolution {}

  /** A referenced object or key does not exist yet; try again later. */
  public record Missing(String message) implements Resolution {}

  /** A referenced value exists but cannot be used: InvalidSpec. */
  public record Invalid(String message) implements Resolution {}

  /** Resolves code and arguments; never logs or returns their values in messages. */
  public static Resolution resolve(String namespace, CodeExecutionSpec spec, ReferencedObjects objects) {
    String code = spec.getCode();
    CodeSource from = spec.getCodeFrom();
    if (code == null && from != null) {
      if (from.getConfigMapKeyRef() != null) {
        String name = from.getConfigMapKeyRef().getName();
        String key = from.getConfigMapKeyRef().getKey();
        Optional<Map<String, String>> data = objects.configMap(namespace, name);
        if (data.isEmpty()) {
          return new Missing("ConfigMap " + name + " (spec.codeFrom.configMapKeyRef) does not exist; create it");
        }
        code = data.get().get(key);
        if (code == null) {
          return new Missing("ConfigMap " + name + " has no key " + key + " (spec.codeFrom.configMapKeyRef.key)");
        }
      } else {
        SecretKeyReference ref = from.getSecretKeyRef();
        Optional<Map<String, String>> data = objects.secret(namespace, ref.getName());
        if (data.isEmpty()) {
          return new Missing("Secret " + ref.getName() + " (spec.codeFrom.secretKeyRef) does not exist; create it");
        }
        code = data.get().get(ref.getKey());
        if (code == null) {
          return new Missing("Secret " + ref.getName() + " has no key " + ref.getKey() + " (spec.codeFrom.secretKeyRef.key)");
        }
      }
    }
    ObjectNode arguments =
        spec.getArguments() == null ? JSON.createObjectNode() : JSON.valueToTree(spec.getArguments());
    if (spec.getArgumentsFrom() != null) {
      SecretKeyReference ref = spec.getArgumentsFrom().getSecretKeyRef();
      Optional<Map<String, String>> data = objects.secret(namespace, ref.getName());
      if (data.isEmpty()) {
        return new Missing("Secret " + ref.getName() + " (spec.argumentsFrom.secretKeyRef) does not exist; create it");
      }
      String value = data.get().get(ref.getKey());
      if (value == null) {
        return new Missing("Secret " + ref.getName() + " has no key " + ref.getKey() + " (spec.argumentsFrom.secretKeyRef.key)");
      }
      JsonNode parsed;
      try {
        parsed = JSON.readTree(value);
      } catch (IOException e) {
        return new Invalid("Secret " + ref.getName() + " key " + ref.getKey() + " is not valid JSON; it must hold a JSON object");
      }
      if (parsed == null || !parsed.isObject()) {
        return new Invalid("Secret " + ref.getName() + " key " + ref.getKey() + " must hold a JSON object");
      }
      arguments.setAll((ObjectNode) parsed);
    }
    return new Resolved(new ExecutionInputs(code, arguments));
  }
}
