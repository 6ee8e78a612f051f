package dev.sandboxes.operator.codeexecution;

import dev.sandboxes.operator.sandboxprovider.SandboxProviderReconciler;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/** ConfigMaps and Secrets read from the API server when an execution is about to run. */
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
    return Optional.ofNullable(secret).map(SandboxProviderReconciler::decode);
  }
}
