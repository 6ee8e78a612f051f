package dev.sandboxes.operator.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionReason;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.operator.SandboxOperator;
import dev.sandboxes.operator.testing.DockerEngines;
import dev.sandboxes.operator.testing.TestResources;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A graceful stop with executions in flight, on a real API server: those that finish within the
 * grace period are Completed, the others are cancelled and written as Interrupted before stop()
 * returns. No other operator runs, so nothing may be left Running.
 */
@Tag("e2e")
class GracefulShutdownE2E {

  private static final String PROVIDER = "docker-runc";

  private E2eCluster cluster;
  private SandboxOperator operator;

  @BeforeEach
  void open() {
    DockerEngines.host("runc");
    cluster = E2eCluster.open("shutdown");
    operator = cluster.startOperator();
    cluster.createDockerProvider(PROVIDER, "runc", false);
  }

  @AfterEach
  void close() {
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  void aStopWithExecutionsInFlightLeavesNoneRunning() {
    Map<String, Integer> sleeps = Map.of("short-0", 2, "short-1", 2, "long-0", 60, "long-1", 60);
    sleeps.forEach(
        (name, seconds) -> {
          CodeExecution cx = TestResources.anExecution(cluster.namespace(), name, PROVIDER);
          cx.getSpec().setCode("import time\ndef main(s):\n    time.sleep(s)\n    return s\n");
          cx.getSpec().setArguments(Map.of("s", seconds));
          cx.getSpec().setTimeoutSeconds(120);
          cluster.create(cx);
        });
    await("all four running")
        .atMost(Duration.ofSeconds(90))
        .pollInterval(Duration.ofMillis(200))
        .until(() -> sleeps.keySet().stream().allMatch(this::started));

    long stopping = System.nanoTime();
    operator.stop(Duration.ofSeconds(6));
    Duration stopTook = Duration.ofNanos(System.nanoTime() - stopping);

    for (String name : List.copyOf(sleeps.keySet())) {
      CodeExecution cx = cluster.execution(name);
      String reason = Conditions.reason(cx.getStatus().getConditions(), ConditionTypes.SUCCEEDED);
      assertThat(reason)
          .as("%s right after stop(): %s", name, cx.getStatus().getMessage())
          .isEqualTo(
              name.startsWith("short")
                  ? CodeExecutionReason.COMPLETED.value()
                  : CodeExecutionReason.INTERRUPTED.value());
      assertThat(cx.getStatus().getCompletionTime()).as(name).isNotNull();
    }
    System.out.printf(
        "GracefulShutdownE2E: stop() with 4 in flight returned after %d ms%n", stopTook.toMillis());
    assertThat(stopTook).isLessThan(Duration.ofSeconds(30));
  }

  private boolean started(String name) {
    CodeExecution cx = cluster.execution(name);
    return cx != null
        && cx.getStatus() != null
        && Conditions.isTrue(cx.getStatus().getConditions(), ConditionTypes.STARTED);
  }
}
