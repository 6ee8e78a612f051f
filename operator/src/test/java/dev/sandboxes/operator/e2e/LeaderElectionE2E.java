package dev.sandboxes.operator.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.sandboxes.operator.SandboxOperator;
import dev.sandboxes.operator.config.OperatorConfig;
import dev.sandboxes.operator.e2e.ExecutionHistories.Stage;
import dev.sandboxes.operator.testing.DockerEngines;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.javaoperatorsdk.operator.api.config.LeaderElectionConfigurationBuilder;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Two operator replicas in this JVM, each with its own client, elect a leader through a Lease. The
 * leader "crashes" mid-burst: its client is closed without any graceful step, so from the API
 * server's point of view it vanished (no status write, no Lease release, no event; its in-flight
 * containers keep running on the engine, as they would after a real crash). The other replica takes
 * the Lease once it expires and finishes the burst. Every execution must reach a terminal phase
 * exactly once and must never be started twice: a watch records every status change.
 */
@Tag("e2e")
class LeaderElectionE2E {

  private static final Logger LOG = LoggerFactory.getLogger(LeaderElectionE2E.class);
  private static final String LEASE = "sandbox-operator-e2e";
  private static final String PROVIDER = "docker-runc";
  private static final int BURST = 20;

  private E2eCluster cluster;
  private final Map<String, KubernetesClient> clients = new TreeMap<>();
  private final Map<String, SandboxOperator> replicas = new TreeMap<>();
  private ExecutionHistories histories;

  @BeforeEach
  void open() {
    DockerEngines.host("runc");
    cluster = E2eCluster.open("leader");
    OperatorConfig base = cluster.operatorConfig();
    OperatorConfig config =
        new OperatorConfig(
            base.defaultRuntimeImage(),
            base.watchNamespaces(),
            base.probeInterval(),
            base.reconcileThreads(),
            0,
            true,
            LEASE,
            cluster.namespace(),
            base.isolationPolicy());
    for (String identity : List.of("replica-a", "replica-b")) {
      KubernetesClient client = E2eCluster.connect();
      clients.put(identity, client);
      // The production settings (lease duration 15 s, renew deadline 10 s, retry 2 s) with a fixed
      // identity per replica, and without JOSDK's System.exit on losing the lease: both replicas
      // share this JVM.
      replicas.put(
          identity,
          cluster.startOperator(
              client,
              config,
              o ->
                  o.withLeaderElectionConfiguration(
                      LeaderElectionConfigurationBuilder.aLeaderElectionConfiguration(LEASE)
                          .withLeaseNamespace(cluster.namespace())
                          .withIdentity(identity)
                          .withExitOnStopLeading(false)
                          .build())));
    }
    cluster.createDockerProvider(PROVIDER, "runc", true);
  }

  @AfterEach
  void close() {
    if (histories != null) {
      histories.close();
    }
    // The crashed replica's client is already closed; its stop only ends its threads.
    replicas
        .values()
        .forEach(
            r -> {
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
    String survivor =
        replicas.keySet().stream().filter(id -> !id.equals(leader)).findFirst().orElseThrow();
    histories = new ExecutionHistories(cluster, "burst-");
    List<String> names = histories.createSleepers(BURST, PROVIDER);

    // Mid-burst: some finished, some running, the rest waiting.
    Map<Stage, Long> atCrash = histories.awaitMidBurst(BURST, 2, Duration.ofSeconds(120));
    long crashedAt = System.nanoTime();
    // Both clients: the one it was given, and its informers' own, which also renews the Lease.
    clients.get(leader).close();
    replicas.get(leader).closeOwnClientAbruptly();
    LOG.info("crashed {} with executions {}", leader, atCrash);

    String newHolder = awaitLeaseHolder(leader, Duration.ofSeconds(60));
    Duration takeover = Duration.ofNanos(System.nanoTime() - crashedAt);
    assertThat(newHolder).isEqualTo(survivor);

    histories.awaitAllTerminal(
        names, Duration.ofSeconds(150), LeaderElectionE2E::reconcilerThreads);
    Duration allTerminal = Duration.ofNanos(System.nanoTime() - crashedAt);

    Map<String, Long> outcomes = histories.assertSleepersEndedOnce(names);
    LOG.info(
        "leader {} crashed with {}; {} took over after {} ms; all {} terminal {} ms after the crash; outcomes {}",
        leader,
        atCrash,
        survivor,
        takeover.toMillis(),
        BURST,
        allTerminal.toMillis(),
        outcomes);
    System.out.printf(
        "LeaderElectionE2E: at crash %s; takeover %d ms; all terminal %d ms after the crash; outcomes %s%n",
        atCrash, takeover.toMillis(), allTerminal.toMillis(), outcomes);
  }

  private String awaitLeaseHolder(String other, Duration wait) {
    String[] holder = new String[1];
    await("Lease " + LEASE + " held" + (other == null ? "" : " by another than " + other))
        .atMost(wait)
        .pollInterval(Duration.ofMillis(200))
        .until(
            () -> {
              Lease lease =
                  cluster
                      .client()
                      .resources(Lease.class)
                      .inNamespace(cluster.namespace())
                      .withName(LEASE)
                      .get();
              holder[0] =
                  lease == null || lease.getSpec() == null
                      ? null
                      : lease.getSpec().getHolderIdentity();
              return holder[0] != null
                  && replicas.containsKey(holder[0])
                  && !holder[0].equals(other);
            });
    return holder[0];
  }

  /** What this JVM's reconciler threads are doing, for a failure message. */
  private static String reconcilerThreads() {
    StringBuilder out = new StringBuilder();
    Thread.getAllStackTraces()
        .forEach(
            (thread, stack) -> {
              if (thread.getName().startsWith("ReconcilerExecutor")
                  && Arrays.stream(stack)
                      .anyMatch(f -> f.getClassName().startsWith("dev.sandboxes"))) {
                out.append(thread.getName()).append(' ').append(thread.getState()).append('\n');
                Arrays.stream(stack)
                    .limit(25)
                    .forEach(f -> out.append("    at ").append(f).append('\n'));
              }
            });
    return out.toString();
  }
}
