package dev.sandboxes.operator.backend;

import dev.sandboxes.api.v1alpha1.SandboxProviderSpec;
import dev.sandboxes.operator.config.OperatorConfig;
import dev.sandboxes.operator.sandboxprovider.ProviderSettings;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.Map;

/**
 * What a backend is built from: the provider's effective settings and raw spec, the decoded data
 * of the Secrets it references (by Secret name), its uid (for labels and owner references), and
 * the Kubernetes client (null in `run`).
 */
public record BackendContext(
    String providerUid,
    ProviderSettings settings,
    SandboxProviderSpec spec,
    Map<String, Map<String, String>> secrets,
    OperatorConfig config,
    KubernetesClient client) {

  /** A value from a referenced Secret; callers checked presence through SecretRequirements. */
  public String secretValue(String secretName, String key) {
    Map<String, String> data = secrets.get(secretName);
    return data == null ? null : data.get(key);
  }
}
