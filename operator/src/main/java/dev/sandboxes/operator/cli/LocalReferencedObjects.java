package dev.sandboxes.operator.cli;

import dev.sandboxes.operator.provider.ReferencedObjects;
import dev.sandboxes.operator.provider.SecretData;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Secret;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * ConfigMaps and Secrets for `run`: the ones in the manifest files and `--secret` files, then the
 * environment. A key K of Secret S is read from {@code SANDBOX_SECRET_<S>_<K>} (upper case, other
 * characters as underscores) when no file provides S.
 *
 * <p>The execution-input label is not required here: `run` acts with the authority of whoever runs
 * it, who passes the Secret values in themselves, so there is no deputy to confuse.
 */
public final class LocalReferencedObjects implements ReferencedObjects {

  private final Map<String, Map<String, String>> configMaps = new HashMap<>();
  private final Map<String, Map<String, String>> secrets = new HashMap<>();
  private final Map<String, String> environment;

  public LocalReferencedObjects(Map<String, String> environment) {
    this.environment = environment;
  }

  public void add(ConfigMap configMap) {
    configMaps.put(
        configMap.getMetadata().getName(),
        configMap.getData() == null ? Map.of() : Map.copyOf(configMap.getData()));
  }

  public void add(Secret secret) {
    secrets.put(secret.getMetadata().getName(), SecretData.decode(secret));
  }

  /** Adds a Secret under a name, whatever the name inside its manifest. */
  public void add(String name, Secret secret) {
    secrets.put(name, SecretData.decode(secret));
  }

  @Override
  public Optional<Map<String, String>> configMap(String namespace, String name) {
    return Optional.ofNullable(configMaps.get(name));
  }

  @Override
  public Optional<Map<String, String>> secret(String namespace, String name) {
    Map<String, String> fromFile = secrets.get(name);
    if (fromFile != null) {
      return Optional.of(fromFile);
    }
    String prefix = "SANDBOX_SECRET_" + envName(name) + "_";
    Map<String, String> fromEnvironment = new HashMap<>();
    environment.forEach(
        (key, value) -> {
          if (key.startsWith(prefix)) {
            fromEnvironment.put(key.substring(prefix.length()), value);
          }
        });
    if (fromEnvironment.isEmpty()) {
      return Optional.empty();
    }
    // Keys are matched case-insensitively against the variable suffix (variables are upper case).
    return Optional.of(new CaseInsensitiveKeys(fromEnvironment));
  }

  @Override
  public Optional<ExecutionSecret> executionSecret(String namespace, String name) {
    return secret(namespace, name).map(data -> new ExecutionSecret(true, data));
  }

  @Override
  public Optional<ExecutionSecret> executionConfigMap(String namespace, String name) {
    return configMap(namespace, name).map(data -> new ExecutionSecret(true, data));
  }

  /** The environment variable name part for a Secret or key name. */
  public static String envName(String name) {
    return name.toUpperCase(Locale.ROOT).replaceAll("[^A-Z0-9]", "_");
  }

  /** A read-only map that finds "accessKeyId" under "ACCESSKEYID". */
  private static final class CaseInsensitiveKeys extends HashMap<String, String> {
    private static final long serialVersionUID = 1L;

    CaseInsensitiveKeys(Map<String, String> upperCaseKeys) {
      super(upperCaseKeys);
    }

    @Override
    public String get(Object key) {
      return key instanceof String s ? super.get(envName(s)) : null;
    }

    @Override
    public boolean containsKey(Object key) {
      return get(key) != null;
    }
  }
}
