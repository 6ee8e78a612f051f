package dev.sandboxes.operator.sandboxprovider;

import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.operator.backend.SandboxBackend;
import dev.sandboxes.operator.backend.SandboxBackendFactory;
import dev.sandboxes.operator.metrics.MeteredProviders;
import dev.sandboxes.operator.provider.BackendContext;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The live backends, one per SandboxProvider uid. Owned by the SandboxProvider reconciler (which
 * creates, replaces and removes them) and read by the CodeExecution side.
 */
public final class ProviderRegistry implements MeteredProviders, AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(ProviderRegistry.class);

  private final SandboxBackendFactory factory;
  private final Consumer<String> capacityListener;
  private final ConcurrentMap<String, ProviderRuntime> runtimes = new ConcurrentHashMap<>();

  /**
   * @param capacityListener told the provider uid whenever its backend may have a free sandbox, and
   *     when it is removed (before the listener of the backend's own context)
   */
  public ProviderRegistry(SandboxBackendFactory factory, Consumer<String> capacityListener) {
    this.factory = factory;
    this.capacityListener = capacityListener;
  }

  public SandboxBackendFactory factory() {
    return factory;
  }

  public Optional<ProviderRuntime> get(String providerUid) {
    return Optional.ofNullable(runtimes.get(providerUid));
  }

  /**
   * The runtime for this configuration: the current one when the fingerprint matches, otherwise a
   * new backend replacing (and closing) the old one. Running executions keep their sandboxes.
   */
  public ProviderRuntime ensure(BackendContext context, String fingerprint) {
    String uid = context.providerUid();
    ProviderRuntime current = runtimes.get(uid);
    if (current != null && current.fingerprint().equals(fingerprint)) {
      return current;
    }
    Runnable ownListener = context.capacityListener();
    SandboxBackend backend =
        factory.create(
            context.withListeners(
                () -> {
                  capacityListener.accept(uid);
                  ownListener.run();
                },
                context.serviceCallListener()));
    ProviderRuntime fresh = new ProviderRuntime(uid, fingerprint, context.settings(), backend);
    ProviderRuntime previous = runtimes.put(uid, fresh);
    if (previous != null) {
      LOG.info(
          "SandboxProvider {} changed; replacing its backend", context.settings().displayName());
      closeQuietly(previous);
    }
    return fresh;
  }

  /** Removes and closes the runtime of a deleted or invalid provider. */
  public void remove(String providerUid) {
    ProviderRuntime previous = runtimes.remove(providerUid);
    if (previous != null) {
      closeQuietly(previous);
      capacityListener.accept(providerUid);
    }
  }

  @Override
  public Optional<ProviderType> typeOf(String providerUid) {
    return get(providerUid).map(runtime -> runtime.settings().type());
  }

  @Override
  public List<SandboxBackend> backends(ProviderType type) {
    return runtimes.values().stream()
        .filter(runtime -> runtime.settings().type() == type)
        .map(ProviderRuntime::backend)
        .toList();
  }

  @Override
  public void close() {
    for (String uid : List.copyOf(runtimes.keySet())) {
      ProviderRuntime runtime = runtimes.remove(uid);
      if (runtime != null) {
        closeQuietly(runtime);
      }
    }
  }

  private static void closeQuietly(ProviderRuntime runtime) {
    try {
      runtime.backend().close();
    } catch (RuntimeException e) {
      LOG.warn(
          "closing the backend of SandboxProvider {} failed: {}",
          runtime.settings().displayName(),
          e.toString());
    }
  }
}
