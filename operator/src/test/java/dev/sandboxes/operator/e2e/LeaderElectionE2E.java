package dev.sandboxes.operator.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionSpec;
import dev.sandboxes.api.v1alpha1.CodeExecutionStatus;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.DockerSpec;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.operator.SandboxOperator;
import dev.sandboxes.operator.config.OperatorConfig;
import dev.sandboxes.operator.testing.DockerEngines;
import dev.sandboxes.operator.testing.TestResources;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.api.model.events.v1.Event;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.javaoperatorsdk.operator.api.config.LeaderElectionConfigurationBuilder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Two operator replicas in this JVM, each with its own client, elect a leader through a Lease.
 * The leader "crashes" mid-burst: its client is closed without any graceful step, so from the API
 * server's point of view it vanished (no status write, no Lease release, no event; its in-flight
 * containers keep running on the engine, as they would after a real crash). The other replica
 * takes the Lease once it expires and finishes the burst. Every execution must reach a terminal
 * phase exactly once and must never be started twice: a watch records every status change.
 */
class LeaderElectionE2E {

  private static final Logger LOG = LoggerFactory.getLogger(LeaderElectionE2E.class);
  private static final String LEASE = "sandbox-operator-e2e";
  private static final String PROVIDER = "docker-runc";
  private static final int BURST = 20;

  private E2eCluster cluster;
  private final Map<String, KubernetesClient> clients = new TreeMap<>();
  private final Map<String, SandboxOperator> replicas = new TreeMap<>();
  private final Map<String, History> histories = new ConcurrentHashMap<>();
  private final List<String> watchProblems = new java.util.concurrent.CopyOnWriteArrayList<>();
  private Watch watch;

  @BeforeEach
  void open() {
    String dockerHost = DockerEngines.host("runc");
    cluster = E2eCluster.open("leader");
    OperatorConfig base = cluster.operatorConfig();
    OperatorConfig config = new OperatorConfig(base.defaultRuntimeImage(), base.watchNamespaces(), base.probeInterval(),
        base.reconcileThreads(), 0, true, LEASE, cluster.namespace());
    for (String identity : List.of("replica-a", "replica-b")) {
      KubernetesClient client = E2eCluster.connect();
      clients.put(identity, client);
      // The production settings (lease duration 15 s, renew deadline 10 s, retry 2 s) with a fixed
      // identity per replica, and without JOSDK's System.exit on losing the lease: both replicas
      // share this JVM.
      replicas.put(identity, cluster.startOperator(client, config, o -> o.withLeaderElectionConfiguration(
          LeaderElectionConfigurationBuilder.aLeaderElectionConfiguration(LEASE)
              .withLeaseNamespace(cluster.namespace())
              .withIdentity(identity)
              .withExitOnStopLeading(false)
              .build())));
    }
    SandboxProvider provider = TestResources.asDefault(TestResources.aDockerProvider(cluster.namespace(), PROVIDER));
    DockerSpec docker = provider.getSpec().getDocker();
    docker.setHost(dockerHost);
    docker.setRuntime("runc");
    docker.setPoolSize(2);
    cluster.create(provider);
  }

  @AfterEach
  void close() {
    if (watch != null) {
      watch.close();
    }
    // The crashed replica's client is already closed; its stop only ends its threads.
    replicas.values().forEach(r -> {
      try {
        r.stop(Duration.ofSeconds(1));
      } catch (RuntimeException e) {
        LOG.info("stopping a replica: {}", e.toString());
      }
    });
    if (cluster != null) {
      cluster.close();
    }
    clients.values().forEach(KubernetesClient::close);
  }

  @Test
  void theSurvivorTakesOverAndEveryExecutionEndsExactlyOnce() {
    String leader = awaitLeaseHolder(null, Duration.ofSeconds(60));
    String survivor = replicas.keySet().stream().filter(id -> !id.equals(leader)).findFirst().orElseThrow();
    cluster.awaitReady(PROVIDER);
    watch = cluster.client().resources(CodeExecution.class).inNamespace(cluster.namespace()).watch(new Recorder());

    for (int i = 0; i < BURST; i++) {
      cluster.create(sleeper(i));
    }
    // Mid-burst: some finished, some running, the rest waiting.
    await("some executions finished and some running").atMost(Duration.ofSeconds(120))
        .pollInterval(Duration.ofMillis(100))
        .until(() -> count(Stage.TERMINAL) >= 1 && count(Stage.RUNNING) >= 2);
    Map<Stage, Long> atCrash = stages();
    long crashedAt = System.nanoTime();
    clients.get(leader).close();
    LOG.info("crashed {} with executions {}", leader, atCrash);

    String newHolder = awaitLeaseHolder(leader, Duration.ofSeconds(60));
    Duration takeover = Duration.ofNanos(System.nanoTime() - crashedAt);
    assertThat(newHolder).isEqualTo(survivor);

    try {
      await("every execution terminal").atMost(Duration.ofSeconds(150)).pollInterval(Duration.ofMillis(250))
          .until(() -> count(Stage.TERMINAL) == BURST);
    } catch (ConditionTimeoutException e) {
      throw new AssertionError(e.getMessage() + "\n" + diagnostics(), e);
    }
    Duration allTerminal = Duration.ofNanos(System.nanoTime() - crashedAt);

    Map<String, Long> outcomes = new TreeMap<>();
    for (int i = 0; i < BURST; i++) {
      String name = name(i);
      CodeExecution cx = cluster.execution(name);
      String reason = Conditions.reason(cx.getStatus().getConditions(), ConditionTypes.SUCCEEDED);
      outcomes.merge(reason, 1L, Long::sum);
      assertThat(reason).as(name).isIn(ConditionTypes.COMPLETED, ConditionTypes.INTERRUPTED);
      if (ConditionTypes.COMPLETED.equals(reason)) {
        assertThat(cx.getStatus().getResult().asInt()).as(name).isEqualTo(i);
      }
    }
    // Let the watch deliver the last changes before judging the histories.
    await().pollDelay(Duration.ofSeconds(2)).until(() -> true);
    assertThat(watchProblems).isEmpty();
    for (int i = 0; i < BURST; i++) {
      String name = name(i);
      History history = histories.get(name);
      assertThat(history).as(name).isNotNull();
      assertThat(history.startTimes).as("%s started once: %s", name, history).hasSize(1);
      assertThat(history.sandboxIds).as("%s one sandbox: %s", name, history).hasSizeLessThanOrEqualTo(1);
      assertThat(history.terminalTransitions).as("%s terminal once: %s", name, history).isEqualTo(1);
      assertThat(history.changedAfterTerminal).as("%s unchanged after terminal: %s", name, history).isFalse();
      List<Event> started = cluster.eventsAbout("CodeExecution", name).stream()
          .filter(e -> "Started".equals(e.getReason())).toList();
      int startedCount = started.stream()
          .mapToInt(e -> e.getSeries() == null || e.getSeries().getCount() == null ? 1 : e.getSeries().getCount()).sum();
      // At most one: the crashed leader may have lost its queued event, never written a second one.
      assertThat(startedCount).as("%s Started events", name).isLessThanOrEqualTo(1);
    }
    LOG.info("leader {} crashed with {}; {} took over after {} ms; all {} terminal {} ms after the crash; outcomes {}",
        leader, atCrash, survivor, takeover.toMillis(), BURST, allTerminal.toMillis(), outcomes);
    System.out.printf("LeaderElectionE2E: at crash %s; takeover %d ms; all terminal %d ms after the crash; outcomes %s%n",
        atCrash, takeover.toMillis(), allTerminal.toMillis(), outcomes);
    // Those running on the crashed leader may end Interrupted; every other one completes.
    assertThat(outcomes.getOrDefault(ConditionTypes.INTERRUPTED, 0L)).isLessThanOrEqualTo(atCrash.get(Stage.RUNNING));
  }

  /** What is left unfinished and what the reconciler threads are doing, for a failure message. */
  private String diagnostics() {
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < BURST; i++) {
      String name = name(i);
      History history = histories.get(name);
      if (history == null || history.stage != Stage.TERMINAL) {
        CodeExecution cx = cluster.execution(name);
        out.append(name).append(": ").append(history).append(" message=")
            .append(cx == null || cx.getStatus() == null ? null : cx.getStatus().getMessage()).append('\n');
      }
    }
    Thread.getAllStackTraces().forEach((thread, stack) -> {
      if (thread.getName().startsWith("ReconcilerExecutor") && stack.length > 0
          && Arrays.stream(stack).anyMatch(f -> f.getClassName().startsWith("dev.sandboxes"))) {
        out.append(thread.getName()).append(" ").append(thread.getState()).append('\n');
        Arrays.stream(stack).limit(25).forEach(f -> out.append("    at ").append(f).append('\n'));
      }
    });
    return out.toString();
  }

  private static String name(int i) {
    return String.format("burst-%02d", i);
  }

  private static CodeExecution sleeper(int i) {
    CodeExecution cx = TestResources.anExecution(null, name(i), PROVIDER);
    CodeExecutionSpec spec = cx.getSpec();
    spec.setCode("import time\ndef main(i):\n    time.sleep(1 + i % 2)\n    return i\n");
    spec.setArguments(Map.of("i", i));
    spec.setTimeoutSeconds(30);
    return cx;
  }

  private String awaitLeaseHolder(String other, Duration wait) {
    String[] holder = new String[1];
    await("Lease " + LEASE + " held" + (other == null ? "" : " by another than " + other)).atMost(wait)
        .pollInterval(Duration.ofMillis(200))
        .until(() -> {
          Lease lease = cluster.client().resources(Lease.class).inNamespace(cluster.namespace()).withName(LEASE).get();
          holder[0] = lease == null || lease.getSpec() == null ? null : lease.getSpec().getHolderIdentity();
          return holder[0] != null && replicas.containsKey(holder[0]) && !holder[0].equals(other);
        });
    return holder[0];
  }

  enum Stage { PENDING, RUNNING, TERMINAL }

  private Map<Stage, Long> stages() {
    Map<Stage, Long> stages = new TreeMap<>();
    for (Stage stage : Stage.values()) {
      stages.put(stage, count(stage));
    }
    return stages;
  }

  private long count(Stage stage) {
    Map<String, Stage> latest = histories.entrySet().stream()
        .collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().stage));
    long unseen = stage == Stage.PENDING ? BURST - latest.size() : 0;
    return unseen + latest.values().stream().filter(s -> s == stage).count();
  }

  /** What the watch saw of one execution. */
  static final class History {
    final Set<String> startTimes = new LinkedHashSet<>();
    final Set<String> sandboxIds = new LinkedHashSet<>();
    final List<String> reasons = new ArrayList<>();
    int terminalTransitions;
    boolean changedAfterTerminal;
    String terminalSnapshot;
    Stage stage = Stage.PENDING;

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
      String reason = Conditions.reason(status.getConditions(), ConditionTypes.SUCCEEDED);
      if (reasons.isEmpty() || !reasons.get(reasons.size() - 1).equals(String.valueOf(reason))) {
        reasons.add(String.valueOf(reason));
      }
      boolean terminal = Conditions.get(status.getConditions(), ConditionTypes.SUCCEEDED)
          .map(c -> !Conditions.UNKNOWN.equals(c.getStatus())).orElse(false);
      String snapshot = reason + "@" + status.getCompletionTime() + "#" + status.getExitCode();
      if (terminal && stage != Stage.TERMINAL) {
        terminalTransitions++;
        terminalSnapshot = snapshot;
      } else if (stage == Stage.TERMINAL && (!terminal || !snapshot.equals(terminalSnapshot))) {
        changedAfterTerminal = true;
      }
      stage = terminal ? Stage.TERMINAL
          : Conditions.isTrue(status.getConditions(), ConditionTypes.STARTED) ? Stage.RUNNING : Stage.PENDING;
    }

    @Override
    public synchronized String toString() {
      return "starts=" + startTimes + " sandboxes=" + sandboxIds + " reasons=" + reasons;
    }
  }

  private final class Recorder implements Watcher<CodeExecution> {
    @Override
    public void eventReceived(Action action, CodeExecution cx) {
      if (action == Action.ERROR || !cx.getMetadata().getName().startsWith("burst-")) {
        return;
      }
      histories.computeIfAbsent(cx.getMetadata().getName(), n -> new History()).observe(cx.getStatus());
    }

    @Override
    public void onClose(WatcherException cause) {
      watchProblems.add("the watch closed: " + cause);
    }
  }
}
