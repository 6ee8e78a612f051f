package dev.sandboxes.operator.sandboxprovider;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.api.v1alpha1.SandboxProviderStatus;
import dev.sandboxes.operator.common.StatusWriter;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The one writer of SandboxProvider statuses. A provider's status is an observation (the last
 * probe, the pools): it is written when anything in it changed, and on a conflict the latest one
 * wins ({@link StatusWriter#overwrite}). Subscribers (metrics, pool events) hear of every status
 * the reconciler arrives at, written or found already stored, so that a restarted operator's gauges
 * start from the stored status.
 */
final class SandboxProviderStatusRecorder {

  private static final ObjectMapper JSON = new ObjectMapper();

  /** Told of each status recorded, with the one before. */
  @FunctionalInterface
  interface Subscriber {
    void recorded(
        SandboxProvider provider, SandboxProviderStatus before, SandboxProviderStatus after);
  }

  private final List<Subscriber> subscribers = new CopyOnWriteArrayList<>();

  void subscribe(Subscriber subscriber) {
    subscribers.add(subscriber);
  }

  /**
   * Records {@code next} as the status of {@code provider}: tells the subscribers, writes it if it
   * changed.
   */
  void record(
      SandboxProvider provider, Context<SandboxProvider> context, SandboxProviderStatus next) {
    SandboxProviderStatus before = provider.getStatus();
    subscribers.forEach(s -> s.recorded(provider, before, next));
    if (worthWriting(before, next)) {
      StatusWriter.overwrite(provider, context, next, SandboxProvider::new);
    }
  }

  /**
   * Whether anything in the status changed (the probe time included: it says the backend was looked
   * at).
   */
  static boolean worthWriting(SandboxProviderStatus current, SandboxProviderStatus next) {
    return current == null || !JSON.valueToTree(current).equals(JSON.valueToTree(next));
  }
}
