package dev.sandboxes.operator.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionReason;
import dev.sandboxes.api.v1alpha1.CodeExecutionStatus;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.operator.testing.TestResources;
import io.fabric8.kubernetes.api.model.events.v1.Event;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;
import org.awaitility.core.ConditionTimeoutException;

/**
 * Every status change of the CodeExecutions whose names start with a prefix, as a watch delivers
 * them: enough to prove that each was started at most once (one startTime, one sandbox id) and
 * reached a terminal phase exactly once and never left it, across operator crashes.
 */
final class ExecutionHistories implements Watcher<CodeExecution>, AutoCloseable {

  /** Where an execution stands. */
  enum Stage {
    PENDING,
    RUNNING,
    TERMINAL
  }

  private final E2eCluster cluster;
  private final String prefix;
  private final Map<String, History> histories = new ConcurrentHashMap<>();
  private final List<String> problems = new CopyOnWriteArrayList<>();
  private final Watch watch;

  /** Starts watching the cluster's namespace; create the executions afterwards. */
  ExecutionHistories(E2eCluster cluster, String prefix) {
    this.cluster = cluster;
    this.prefix = prefix;
    this.watch =
        cluster
            .client()
            .resources(CodeExecution.class)
            .inNamespace(cluster.namespace())
            .watch(this);
  }

  @Override
  public void eventReceived(Action action, CodeExecution cx) {
    if (action != Action.ERROR && cx.getMetadata().getName().startsWith(prefix)) {
      histories
          .computeIfAbsent(cx.getMetadata().getName(), n -> new History())
          .observe(cx.getStatus());
    }
  }

  @Override
  public void onClose(WatcherException cause) {
    problems.add("the watch closed: " + cause);
  }

  @Override
  public void close() {
    watch.close();
  }

  /**
   * Creates {@code count} Python executions named prefix-00, prefix-01, ... on a provider; each
   * sleeps 1 or 2 s and returns its index. Returns their names.
   */
  List<String> createSleepers(int count, String provider) {
    List<String> names = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      String name = String.format("%s%02d", prefix, i);
      CodeExecution cx = TestResources.anExecution(cluster.namespace(), name, provider);
      cx.getSpec().setCode("import time\ndef main(i):\n    time.sleep(1 + i % 2)\n    return i\n");
      cx.getSpec().setArguments(Map.of("i", i));
      cx.getSpec().setTimeoutSeconds(30);
      cluster.create(cx);
      names.add(name);
    }
    return names;
  }

  /**
   * Waits for the middle of a burst (at least one finished and {@code running} running) and returns
   * the stages at that moment.
   */
  Map<Stage, Long> awaitMidBurst(int total, int running, Duration wait) {
    await("some executions finished and " + running + " running")
        .atMost(wait)
        .pollInterval(Duration.ofMillis(100))
        .until(() -> count(Stage.TERMINAL, total) >= 1 && count(Stage.RUNNING, total) >= running);
    return stages(total);
  }

  /**
   * Waits until every execution is terminal; on a timeout the message says what is left and why.
   */
  void awaitAllTerminal(List<String> names, Duration wait, Supplier<String> diagnostics) {
    try {
      await("every execution terminal")
          .atMost(wait)
          .pollInterval(Duration.ofMillis(250))
          .until(() -> count(Stage.TERMINAL, names.size()) == names.size());
    } catch (ConditionTimeoutException e) {
      throw new AssertionError(e.getMessage() + "\n" + unfinished(names) + diagnostics.get(), e);
    }
  }

  /** How many of {@code total} executions are at a stage; unseen ones count as Pending. */
  long count(Stage stage, int total) {
    long seen = histories.values().stream().filter(h -> h.stage() == stage).count();
    return stage == Stage.PENDING ? seen + total - histories.size() : seen;
  }

  Map<Stage, Long> stages(int total) {
    Map<Stage, Long> stages = new TreeMap<>();
    for (Stage stage : Stage.values()) {
      stages.put(stage, count(stage, total));
    }
    return stages;
  }

  /** The unfinished executions with what the watch saw, for a failure message. */
  String unfinished(List<String> names) {
    StringBuilder out = new StringBuilder();
    for (String name : names) {
      History history = histories.get(name);
      if (history == null || history.stage() != Stage.TERMINAL) {
        CodeExecution cx = cluster.execution(name);
        out.append(name)
            .append(": ")
            .append(history)
            .append(" message=")
            .append(cx == null || cx.getStatus() == null ? null : cx.getStatus().getMessage())
            .append('\n');
      }
    }
    return out.toString();
  }

  /**
   * Each execution: one start at most, one sandbox at most, terminal exactly once and unchanged
   * since, and at most one Started event (a crashed operator may lose its queued event, never write
   * a second one).
   */
  void assertEachRanAtMostOnceAndEndedOnce(List<String> names) {
    assertThat(problems).isEmpty();
    for (String name : names) {
      History history = histories.get(name);
      assertThat(history).as(name).isNotNull();
      synchronized (history) {
        assertThat(history.startTimes)
            .as("%s started at most once: %s", name, history)
            .hasSizeLessThanOrEqualTo(1);
        assertThat(history.sandboxIds)
            .as("%s one sandbox: %s", name, history)
            .hasSizeLessThanOrEqualTo(1);
        assertThat(history.terminalTransitions)
            .as("%s terminal once: %s", name, history)
            .isEqualTo(1);
        assertThat(history.changedAfterTerminal)
            .as("%s unchanged once terminal: %s", name, history)
            .isFalse();
      }
      int started =
          cluster.eventsAbout("CodeExecution", name).stream()
              .filter(e -> "Started".equals(e.getReason()))
              .mapToInt(ExecutionHistories::occurrences)
              .sum();
      assertThat(started).as("%s Started events", name).isLessThanOrEqualTo(1);
    }
  }

  /**
   * For the executions of {@link #createSleepers}, all terminal: each Completed with its index as
   * result or Interrupted (it ran on an operator that died), each run at most once and ended once
   * (after a moment for the watch to deliver the last changes). Returns the count per reason.
   */
  Map<String, Long> assertSleepersEndedOnce(List<String> names) {
    Map<String, Long> outcomes = new TreeMap<>();
    for (int i = 0; i < names.size(); i++) {
      CodeExecution cx = cluster.execution(names.get(i));
      String reason = Conditions.reason(cx.getStatus().getConditions(), ConditionTypes.SUCCEEDED);
      outcomes.merge(reason, 1L, Long::sum);
      assertThat(reason)
          .as("%s: %s", names.get(i), cx.getStatus().getMessage())
          .isIn(CodeExecutionReason.COMPLETED.value(), CodeExecutionReason.INTERRUPTED.value());
      if (CodeExecutionReason.COMPLETED.value().equals(reason)) {
        assertThat(cx.getStatus().getResult().asInt()).as(names.get(i)).isEqualTo(i);
      }
    }
    await().pollDelay(Duration.ofSeconds(2)).until(() -> true);
    assertEachRanAtMostOnceAndEndedOnce(names);
    return outcomes;
  }

  private static int occurrences(Event event) {
    return event.getSeries() == null || event.getSeries().getCount() == null
        ? 1
        : event.getSeries().getCount();
  }

  /** What the watch saw of one execution. */
  private static final class History {
    private final Set<String> startTimes = new LinkedHashSet<>();
    private final Set<String> sandboxIds = new LinkedHashSet<>();
    private final List<String> reasons = new ArrayList<>();
    private int terminalTransitions;
    private boolean changedAfterTerminal;
    private String terminalSnapshot;
    private Stage stage = Stage.PENDING;

    synchronized Stage stage() {
      return stage;
    }

    synchronized void observe(CodeExecutionStatus status) {
      if (status == null) {
        return;
      }
      if (status.getStartTime() != null) {
        startTimes.add(status.getStartTime());
      }
      if (status.getSandbox() != null && status.getSandbox().getId() != null) {
        sandboxIds.add(status.getSandbox().getId());
      }
      String reason =
          String.valueOf(Conditions.reason(status.getConditions(), ConditionTypes.SUCCEEDED));
      if (reasons.isEmpty() || !reasons.get(reasons.size() - 1).equals(reason)) {
        reasons.add(reason);
      }
      boolean terminal =
          Conditions.get(status.getConditions(), ConditionTypes.SUCCEEDED)
              .map(c -> !Conditions.UNKNOWN.equals(c.getStatus()))
              .orElse(false);
      String snapshot = reason + "@" + status.getCompletionTime() + "#" + status.getExitCode();
      if (terminal && stage != Stage.TERMINAL) {
        terminalTransitions++;
        terminalSnapshot = snapshot;
      } else if (stage == Stage.TERMINAL && (!terminal || !snapshot.equals(terminalSnapshot))) {
        changedAfterTerminal = true;
      }
      stage =
          terminal
              ? Stage.TERMINAL
              : Conditions.isTrue(status.getConditions(), ConditionTypes.STARTED)
                  ? Stage.RUNNING
                  : Stage.PENDING;
    }

    @Override
    public synchronized String toString() {
      return "starts=" + startTimes + " sandboxes=" + sandboxIds + " reasons=" + reasons;
    }
  }
}
