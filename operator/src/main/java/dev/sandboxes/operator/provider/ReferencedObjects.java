package dev.sandboxes.operator.provider;

import java.util.Map;
import java.util.Optional;

/**
 * Read access to the ConfigMaps and Secrets an execution or provider refers to: the cluster in the
 * operator, files and the environment in `run`. Values come back decoded (Secret data as UTF-8
 * text).
 */
public interface ReferencedObjects {

  /**
   * A Secret as an execution may see it. {@code allowed} says whether the Secret opted in to being
   * read for executions (the label sandboxes.dev/execution-input: "true"); when it did not, {@code
   * data} is empty: the values were never decoded.
   */
  record ExecutionSecret(boolean allowed, Map<String, String> data) {}

  /** The data of a ConfigMap, or empty when it does not exist. */
  Optional<Map<String, String>> configMap(String namespace, String name);

  /** The decoded data of a Secret a provider refers to, or empty when it does not exist. */
  Optional<Map<String, String>> secret(String namespace, String name);

  /** A Secret an execution refers to (codeFrom, argumentsFrom), or empty when it does not exist. */
  Optional<ExecutionSecret> executionSecret(String namespace, String name);

  /**
   * A ConfigMap an execution reads arguments from (argumentsFrom.configMapKeyRef), under the same
   * opt-in label as Secrets ({@code allowed}, data empty when not), or empty when it does not
   * exist.
   */
  Optional<ExecutionSecret> executionConfigMap(String namespace, String name);
}
