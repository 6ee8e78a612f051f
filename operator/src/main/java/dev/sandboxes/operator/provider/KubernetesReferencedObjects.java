package dev.sandboxes.operator.provider;

import dev.sandboxes.api.ApiConstants;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * ConfigMaps and Secrets read from the API server with plain GETs when they are needed: nothing is
 * cached, so the operator needs no list or watch on Secrets.
 */
public final class KubernetesReferencedObjects implements ReferencedObjects {

  private final KubernetesClient client;

  public KubernetesReferencedObjects(KubernetesClient client) {
    this.client = client;
  }

  @Override
  public Optional<Map<String, String>> configMap(String namespace, String name) {
    ConfigMap configMap = client.configMaps().inNamespace(namespace).withName(name).get();
    if (configMap == null) {
      return Optional.empty();
    }
    Map<String, String> data = new HashMap<>();
    if (configMap.getData() != null) {
      data.putAll(configMap.getData());
    }
    return Optional.of(data);
  }

  @Override
  public Optional<Map<String, String>> secret(String namespace, String name) {
    Secret secret = client.secrets().inNamespace(namespace).withName(name).get();
    return Optional.ofNullable(secret).map(SecretData::decode);
  }

  @Override
  public Optional<ExecutionSecret> executionSecret(String namespace, String name) {
    Secret secret = client.secrets().inNamespace(namespace).withName(name).get();
    if (secret == null) {
      return Optional.empty();
    }
    // One read decides both: the label and the values come from the same version of the Secret.
    if (!optedIn(secret)) {
      return Optional.of(new ExecutionSecret(false, Map.of()));
    }
    return Optional.of(new ExecutionSecret(true, SecretData.decode(secret)));
  }

  @Override
  public Optional<ExecutionSecret> executionConfigMap(String namespace, String name) {
    ConfigMap configMap = client.configMaps().inNamespace(namespace).withName(name).get();
    if (configMap == null) {
      return Optional.empty();
    }
    if (!optedIn(configMap)) {
      return Optional.of(new ExecutionSecret(false, Map.of()));
    }
    return Optional.of(
        new ExecutionSecret(
            true, configMap.getData() == null ? Map.of() : Map.copyOf(configMap.getData())));
  }

  /** Whether a Secret or ConfigMap carries sandboxes.dev/execution-input: "true". */
  public static boolean optedIn(HasMetadata object) {
    Map<String, String> labels =
        object.getMetadata() == null ? null : object.getMetadata().getLabels();
    return labels != null
        && ApiConstants.EXECUTION_INPUT_VALUE.equals(
            labels.get(ApiConstants.EXECUTION_INPUT_LABEL));
  }
}
