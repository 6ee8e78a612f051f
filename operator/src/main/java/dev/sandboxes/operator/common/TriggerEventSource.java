package dev.sandboxes.operator.common;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.ResourceEventAware;
import io.javaoperatorsdk.operator.processing.event.source.inbound.SimpleInboundEventSource;
import java.util.function.Consumer;

/**
 * An event source the operator fires itself (a run finished, a sandbox became free, a probe is due)
 * that also hears about deleted primaries, which need no finalizer to be cleaned up in memory.
 */
public final class TriggerEventSource<P extends HasMetadata> extends SimpleInboundEventSource<P>
    implements ResourceEventAware<P> {

  private volatile Consumer<P> onDeleted = resource -> {};

  public TriggerEventSource(String name) {
    super(name);
  }

  /** Sets what happens when a primary is deleted (in-memory cleanup only). */
  public void onDeleted(Consumer<P> action) {
    this.onDeleted = action;
  }

  /** Asks for a reconcile of that resource; safe from any thread, before start a no-op. */
  public void trigger(ResourceID id) {
    if (isRunning()) {
      propagateEvent(id);
    }
  }

  @Override
  public void onResourceDeleted(P resource) {
    onDeleted.accept(resource);
  }
}
