package dev.sandboxes.operator.metrics;

import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.operator.backend.SandboxBackend;
import java.util.List;
import java.util.Optional;

/**
 * The live providers as the gauges read them. An interface here, implemented by the provider
 * registry, so that the metrics depend on no controller while the controllers record into them.
 */
public interface MeteredProviders {

  /** The type of a live provider; empty when no backend runs for that uid. */
  Optional<ProviderType> typeOf(String providerUid);

  /** The backends of the live providers of one type (pool counts, starting sandboxes). */
  List<SandboxBackend> backends(ProviderType type);
}
