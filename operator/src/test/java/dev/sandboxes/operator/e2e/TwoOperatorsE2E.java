package dev.sandboxes.operator.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionReason;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.operator.backend.SandboxBackendFactory;
import dev.sandboxes.operator.testing.FakeSandboxBackend;
import dev.sandboxes.operator.testing.TestResources;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Two operators, without leader election, against one real API server: what happens when a debug
 * operator runs next to the real one, or two leaders overlap while one drains. Each has its own
 * client and its own in-memory backend; both backends count runs per execution uid in one map. 300
 * executions: not one may run twice, and each must reach a terminal status exactly once and keep it
 * (a watch records every status change).
 */
@Tag("e2e")
class TwoOperatorsE2E {

  private static final String PROVIDER = "shared";
  private static final int EXECUTIONS = 300;

  private E2eCluster cluster;
  private final List<KubernetesClient> clients = new ArrayList<>();
  private final Map<String, AtomicInteger> runs = new ConcurrentHashMap<>();
  private final Map<String, FakeSandboxBackend> backends = new ConcurrentHashMap<>();
  private ExecutionHistories histories;

  @BeforeEach
  void open() {
    cluster = E2eCluster.open("two-operators");
    for (String name : List.of("first", "second")) {
      KubernetesClient client = E2eCluster.connect();
      clients.add(client);
      // Runs take 20-200 ms, so that both operators hold executions at once.
      SandboxBackendFactory factory =
          new SandboxBackendFactory()
              .register(
                  ProviderType.DOCKER,
                  context ->
                      backends
                          .computeIfAbsent(
                              name,
                              n ->
                                  new FakeSandboxBackend(8, runs, n + "-sandbox-")
                                      .behaviour(
                                          request -> {
                                            sleep(ThreadLocalRandom.current().nextInt(20, 200));
                                            return FakeSandboxBackend.succeedWithArguments(request);
                                          }))
                          .builtFrom(context));
      cluster.startOperator(client, factory, cluster.operatorConfig(), null);
    }
    cluster.create(TestResources.aDockerProvider(cluster.namespace(), PROVIDER));
    cluster.awaitReady(PROVIDER);
  }

  @AfterEach
  void close() {
    if (histories != null) {
      histories.close();
    }
    if (cluster != null) {
      cluster.close();
    }
    clients.forEach(KubernetesClient::close);
  }

  @Test
  void noExecutionRunsTwiceAndEachEndsExactlyOnce() {
    histories = new ExecutionHistories(cluster, "x-");
    List<String> names = new ArrayList<>();
    for (int i = 0; i < EXECUTIONS; i++) {
      String name = String.format("x-%03d", i);
      CodeExecution cx = TestResources.anExecution(cluster.namespace(), name, PROVIDER);
      cx.getSpec().setArguments(Map.of("i", i));
      cluster.create(cx);
      names.add(name);
    }
    long start = System.nanoTime();
    histories.awaitAllTerminal(names, Duration.ofMinutes(5), () -> "runs per uid: " + runs);
    long allTerminalMillis = (System.nanoTime() - start) / 1_000_000;

    Map<String, Long> outcomes = new TreeMap<>();
    for (String name : names) {
      CodeExecution cx = cluster.execution(name);
      String reason = Conditions.reason(cx.getStatus().getConditions(), ConditionTypes.SUCCEEDED);
      outcomes.merge(reason, 1L, Long::sum);
      AtomicInteger count = runs.get(cx.getMetadata().getUid());
      // Exactly once: at most once because of the write-ahead Started record, at least once
      // because whoever lost the race for it gave the execution up to the winner.
      assertThat(count == null ? 0 : count.get()).as("runs of %s", name).isEqualTo(1);
      assertThat(reason)
          .as("%s: %s", name, cx.getStatus().getMessage())
          .isEqualTo(CodeExecutionReason.COMPLETED.value());
      assertThat(cx.getStatus().getResult().get("i").asInt())
          .as(name)
          .isEqualTo(names.indexOf(name));
    }
    histories.assertEachRanAtMostOnceAndEndedOnce(names);
    int byFirst = backends.get("first").startOrder().size();
    int bySecond = backends.get("second").startOrder().size();
    System.out.printf(
        "TwoOperatorsE2E: %d executions terminal %d ms after the last creation; outcomes %s;"
            + " run by the first operator %d, by the second %d%n",
        EXECUTIONS, allTerminalMillis, outcomes, byFirst, bySecond);
    assertThat(byFirst + bySecond).isEqualTo(EXECUTIONS);
    assertThat(byFirst).as("both operators ran executions").isPositive();
    assertThat(bySecond).as("both operators ran executions").isPositive();
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
