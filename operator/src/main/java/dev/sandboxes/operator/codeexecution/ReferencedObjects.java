package dev.sandboxes.operator.codeexecution;

import java.util.Map;
import java.util.Optional;

/**
 * Read access to the ConfigMaps and Secrets an execution or provider refers to: the cluster in
 * the operator, files and the environment in `run`. Values come back decoded (Secret data as
 * UTF-8 text).
 */
public interface ReferencedObjects {

  /** The data of a ConfigMap, or empty when it does not exist. */
  Optional<Map<String, String>> configMap(String namespace, String name);

  /** The decoded data of a Secret, or empty when it does not exist. */
  Optional<Map<String, String>> secret(String namespace, String name);
}
