package dev.sandboxes.operator.backend.selfmanaged;

import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.operator.config.OperatorConfig;
import dev.sandboxes.operator.provider.ProviderSettings;
import io.fabric8.kubernetes.api.model.PodSpec;

/**
 * The pod spec a SelfManaged pool would create, for benchmarks that measure pods without an
 * operator.
 */
public final class SandboxPodSpecs {

  private SandboxPodSpecs() {}

  /**
   * The spec of a pool pod of this provider and language (image, RuntimeClass, limits, hardening).
   */
  public static PodSpec of(SandboxProvider provider, Language language, String image) {
    ProviderSettings settings = ProviderSettings.of(provider, OperatorConfig.defaults());
    return new SandboxPodTemplate(
            settings,
            "bench-no-operator",
            SelfManagedSettings.of(provider.getSpec().getSelfManaged()),
            language,
            image)
        .newPod()
        .getSpec();
  }
}
