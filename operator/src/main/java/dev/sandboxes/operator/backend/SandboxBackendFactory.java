package dev.sandboxes.operator.backend;

import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.operator.provider.BackendContext;
import java.util.EnumMap;
import java.util.Map;
import java.util.function.Function;

/** Builds the backend of a provider type; one builder per type, registered at start. */
public final class SandboxBackendFactory {

  private final Map<ProviderType, Function<BackendContext, SandboxBackend>> builders =
      new EnumMap<>(ProviderType.class);

  /** Registers (or replaces) the builder of a type. */
  public SandboxBackendFactory register(
      ProviderType type, Function<BackendContext, SandboxBackend> builder) {
    builders.put(type, builder);
    return this;
  }

  public boolean supports(ProviderType type) {
    return builders.containsKey(type);
  }

  /**
   * A new backend. Construction must be cheap and must not contact the backend: the first probe
   * does that.
   */
  public SandboxBackend create(BackendContext context) {
    Function<BackendContext, SandboxBackend> builder = builders.get(context.settings().type());
    if (builder == null) {
      throw new IllegalArgumentException(
          "provider type "
              + context.settings().type().value()
              + " is not available in this operator build");
    }
    return builder.apply(context);
  }
}
