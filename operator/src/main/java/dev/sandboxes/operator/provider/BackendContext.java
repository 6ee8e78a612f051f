package dev.sandboxes.operator.provider;

import dev.sandboxes.api.v1alpha1.SandboxProviderSpec;
import dev.sandboxes.operator.config.OperatorConfig;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.Map;

/**
 * What a backend is built from: the provider's effective settings and raw spec, the decoded data of
 * the Secrets it references (by Secret name), its uid (for labels and owner references), the
 * Kubernetes client (null in `run`), and whom it tells about capacity and service calls.
 *
 * @param capacityListener called (from any thread, quickly) whenever a sandbox may have become
 *     available or the backend's start failure changed
 * @param serviceCallListener told how each call of a SaaS backend to its service ended; others
 *     never call it
 */
public record BackendContext(
    String providerUid,
    ProviderSettings settings,
    SandboxProviderSpec spec,
    Map<String, Map<String, String>> secrets,
    OperatorConfig config,
    KubernetesClient client,
    Runnable capacityListener,
    ServiceCallListener serviceCallListener) {

  /** A context whose backend tells nobody about capacity or service calls. */
  public BackendContext(
      String providerUid,
      ProviderSettings settings,
      SandboxProviderSpec spec,
      Map<String, Map<String, String>> secrets,
      OperatorConfig config,
      KubernetesClient client) {
    this(providerUid, settings, spec, secrets, config, client, () -> {}, ServiceCallListener.NONE);
  }

  /** The same context with these listeners. */
  public BackendContext withListeners(Runnable capacity, ServiceCallListener serviceCalls) {
    return new BackendContext(
        providerUid, settings, spec, secrets, config, client, capacity, serviceCalls);
  }

  /**
   * The text with every value of the referenced Secrets replaced by {@code ***}: for errors a
   * backend or engine returns, which may echo what they were given.
   */
  public String redact(String text) {
    if (text == null) {
      return null;
    }
    String clean = text;
    for (Map<String, String> data : secrets.values()) {
      for (String value : data.values()) {
        // Very short values would blank out ordinary words; they are no secrets worth the name.
        if (value != null && value.strip().length() >= 6) {
          clean = clean.replace(value.strip(), "***");
        }
      }
    }
    return clean;
  }

  /** A value from a referenced Secret; callers checked presence through SecretRequirements. */
  public String secretValue(String secretName, String key) {
    Map<String, String> data = secrets.get(secretName);
    return data == null ? null : data.get(key);
  }
}
