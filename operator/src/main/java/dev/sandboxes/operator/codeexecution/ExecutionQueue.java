package dev.sandboxes.operator.codeexecution;

import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.operator.backend.SandboxBackend;
import dev.sandboxes.operator.backend.SandboxLease;
import dev.sandboxes.operator.metrics.MeteredQueue;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * Waiting executions per provider, oldest first. An execution gets a sandbox only when no older
 * execution of the same language is waiting and the provider's concurrency limit allows it;
 * otherwise it stays Pending and is triggered again when capacity frees up. Nothing is rejected for
 * being busy.
 */
public final class ExecutionQueue implements MeteredQueue {

  /** A waiting execution. Ordered by creation time, then namespace/name, so ties are stable. */
  public record Entry(ResourceID id, String uid, Instant created, Language language) {}

  /** Whether an execution's turn for a sandbox has come: the queue's answer to {@link #admit}. */
  public sealed interface Turn {}

  /** Its turn: run now in this sandbox. */
  public record Granted(SandboxLease lease) implements Turn {}

  /**
   * Not yet: older executions go first, or no sandbox or concurrency slot is free
   * (WaitingForSandbox).
   */
  public record Waiting() implements Turn {}

  private static final Comparator<Entry> OLDEST_FIRST =
      Comparator.comparing(Entry::created)
          .thenComparing(e -> e.id().getNamespace().orElse(""))
          .thenComparing(e -> e.id().getName())
          .thenComparing(Entry::uid);

  private final Map<String, ProviderQueue> queues = new ConcurrentHashMap<>();
  private final Consumer<ResourceID> trigger;

  /**
   * @param trigger asks for a reconcile of a waiting execution
   */
  public ExecutionQueue(Consumer<ResourceID> trigger) {
    this.trigger = trigger;
  }

  /**
   * Asks for a sandbox for an execution. Registers it as waiting when it cannot start now;
   * idempotent for repeated reconciles of the same execution.
   */
  public Turn admit(
      String providerUid, Entry entry, SandboxBackend backend, Integer maxConcurrent) {
    List<ResourceID> wake = new ArrayList<>();
    Turn turn = queue(providerUid).admit(entry, backend, maxConcurrent, wake);
    wake.forEach(trigger);
    return turn;
  }

  /** A granted execution finished (or never started): frees its slot and wakes the next ones. */
  public void release(String providerUid, String executionUid) {
    ProviderQueue queue = queues.get(providerUid);
    if (queue != null) {
      List<ResourceID> wake = new ArrayList<>();
      queue.release(executionUid, wake);
      wake.forEach(trigger);
    }
  }

  /** An execution is gone (deleted, invalid, moved): forget it everywhere. */
  public void remove(String executionUid) {
    List<ResourceID> wake = new ArrayList<>();
    for (ProviderQueue queue : queues.values()) {
      queue.remove(executionUid, wake);
    }
    wake.forEach(trigger);
  }

  /**
   * The provider may have a free sandbox now: wake the oldest waiting execution of each language.
   */
  public void capacityChanged(String providerUid) {
    ProviderQueue queue = queues.get(providerUid);
    if (queue != null) {
      List<ResourceID> wake = new ArrayList<>();
      queue.heads(wake);
      wake.forEach(trigger);
    }
  }

  /** How many executions wait on a provider (for metrics and tests). */
  public int waiting(String providerUid) {
    ProviderQueue queue = queues.get(providerUid);
    return queue == null ? 0 : queue.waitingCount();
  }

  /** How many executions hold a slot on a provider. */
  public int running(String providerUid) {
    ProviderQueue queue = queues.get(providerUid);
    return queue == null ? 0 : queue.runningCount();
  }

  /** Every provider's waiting executions grouped by language (for the metrics). */
  @Override
  public List<WaitingGroup> waitingGroups() {
    List<WaitingGroup> groups = new ArrayList<>();
    queues.forEach((providerUid, queue) -> queue.waitingGroups(providerUid, groups));
    return groups;
  }

  /** Providers with executions holding a slot, and how many. */
  @Override
  public Map<String, Integer> runningByProvider() {
    Map<String, Integer> running = new HashMap<>();
    queues.forEach(
        (providerUid, queue) -> {
          int count = queue.runningCount();
          if (count > 0) {
            running.put(providerUid, count);
          }
        });
    return running;
  }

  private ProviderQueue queue(String providerUid) {
    return queues.computeIfAbsent(providerUid, uid -> new ProviderQueue());
  }

  /**
   * One provider's waiting and running executions. Triggers are collected and fired outside the
   * lock.
   */
  private static final class ProviderQueue {
    private final TreeSet<Entry> waiting = new TreeSet<>(OLDEST_FIRST);
    private final Map<String, Entry> waitingByUid = new HashMap<>();
    private final Set<String> running = new HashSet<>();

    synchronized Turn admit(
        Entry entry, SandboxBackend backend, Integer maxConcurrent, List<ResourceID> wake) {
      if (!waitingByUid.containsKey(entry.uid())) {
        waiting.add(entry);
        waitingByUid.put(entry.uid(), entry);
      }
      if (maxConcurrent != null && running.size() >= maxConcurrent) {
        return new Waiting();
      }
      Entry head = headOf(entry.language());
      if (!head.uid().equals(entry.uid())) {
        // An older execution of this language goes first; make sure it is being looked at.
        wake.add(head.id());
        return new Waiting();
      }
      Optional<SandboxLease> lease = backend.tryAcquire(entry.language());
      if (lease.isEmpty()) {
        return new Waiting();
      }
      waiting.remove(entry);
      waitingByUid.remove(entry.uid());
      running.add(entry.uid());
      // The next one of this language may find a sandbox too.
      Entry next = headOf(entry.language());
      if (next != null) {
        wake.add(next.id());
      }
      return new Granted(lease.get());
    }

    synchronized void release(String executionUid, List<ResourceID> wake) {
      if (running.remove(executionUid)) {
        heads(wake);
      }
    }

    synchronized void remove(String executionUid, List<ResourceID> wake) {
      Entry entry = waitingByUid.remove(executionUid);
      if (entry != null) {
        waiting.remove(entry);
      }
      if (running.remove(executionUid) || entry != null) {
        heads(wake);
      }
    }

    /** The oldest waiting execution of each language. */
    synchronized void heads(List<ResourceID> wake) {
      Set<Language> seen = EnumSet.noneOf(Language.class);
      for (Entry entry : waiting) {
        if (seen.add(entry.language())) {
          wake.add(entry.id());
          if (seen.size() == Language.values().length) {
            break;
          }
        }
      }
    }

    private Entry headOf(Language language) {
      for (Entry entry : waiting) {
        if (entry.language() == language) {
          return entry;
        }
      }
      return null;
    }

    /** Oldest first, so the first entry of a language is its oldest. */
    synchronized void waitingGroups(String providerUid, List<WaitingGroup> groups) {
      Map<Language, Integer> counts = new java.util.EnumMap<>(Language.class);
      Map<Language, Instant> oldest = new java.util.EnumMap<>(Language.class);
      for (Entry entry : waiting) {
        counts.merge(entry.language(), 1, Integer::sum);
        oldest.putIfAbsent(entry.language(), entry.created());
      }
      counts.forEach(
          (language, count) ->
              groups.add(new WaitingGroup(providerUid, language, count, oldest.get(language))));
    }

    synchronized int waitingCount() {
      return waiting.size();
    }

    synchronized int runningCount() {
      return running.size();
    }
  }
}
