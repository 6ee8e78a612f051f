package dev.sandboxes.operator.testing;

import dev.sandboxes.operator.provider.ReferencedObjects;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * ConfigMaps and Secrets held in maps by name (any namespace), for tests of how executions read
 * their inputs. Reading a Secret the way providers do fails the test: executions never may.
 */
public final class FakeReferencedObjects implements ReferencedObjects {

  private final Map<String, Map<String, String>> configMaps = new HashMap<>();
  private final Map<String, ExecutionSecret> executionSecrets = new HashMap<>();
  private final Map<String, ExecutionSecret> executionConfigMaps = new HashMap<>();
  private int lookups;

  /** ConfigMaps of code by name. */
  public Map<String, Map<String, String>> configMaps() {
    return configMaps;
  }

  /** Secrets by name, each labelled as an execution input or not. */
  public Map<String, ExecutionSecret> executionSecrets() {
    return executionSecrets;
  }

  /** ConfigMaps of arguments by name, each labelled as an execution input or not. */
  public Map<String, ExecutionSecret> executionConfigMaps() {
    return executionConfigMaps;
  }

  /** How many objects were looked up so far. */
  public int lookups() {
    return lookups;
  }

  @Override
  public Optional<Map<String, String>> configMap(String namespace, String name) {
    lookups++;
    return Optional.ofNullable(configMaps.get(name));
  }

  @Override
  public Optional<Map<String, String>> secret(String namespace, String name) {
    throw new AssertionError("executions must not read Secrets the way providers do");
  }

  @Override
  public Optional<ExecutionSecret> executionSecret(String namespace, String name) {
    lookups++;
    return Optional.ofNullable(executionSecrets.get(name));
  }

  @Override
  public Optional<ExecutionSecret> executionConfigMap(String namespace, String name) {
    lookups++;
    return Optional.ofNullable(executionConfigMaps.get(name));
  }
}
