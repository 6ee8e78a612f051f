package dev.sandboxes.operator.metrics;

import dev.sandboxes.api.v1alpha1.Language;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * The execution queue as the gauges read it. An interface here, implemented by the queue, so that
 * the metrics depend on no controller while the controllers record into the metrics.
 */
public interface MeteredQueue {

  /**
   * Executions of one provider and language waiting for a sandbox, and when the oldest was created.
   */
  record WaitingGroup(String providerUid, Language language, int count, Instant oldestCreated) {}

  /** Every provider's waiting executions grouped by language. */
  List<WaitingGroup> waitingGroups();

  /** Providers with executions holding a slot, and how many. */
  Map<String, Integer> runningByProvider();
}
