package dev.sandboxes.operator.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionReason;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.Phase;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.api.v1alpha1.SandboxProviderReason;
import dev.sandboxes.operator.testing.TestResources;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.events.v1.Event;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Issue 19 on a real cluster: a SelfManaged provider whose image exists on the node but cannot
 * start a sandbox (the cluster's pause image: no {@code sleep} to exec, so the container runtime
 * fails the start). The provider must become Ready=False with reason SandboxStartFailing and the
 * runtime's own error, with an event carrying the same text; an execution waiting on it shows that
 * message while Pending and ends at its admission deadline without running.
 */
@Tag("e2e")
class SandboxStartFailureE2E {

  /** Present on every node of the local cluster (the pod sandbox image); it has no sleep binary. */
  private static final String IMAGE_WITHOUT_SLEEP = "localhost/pause:dev";

  private static E2eCluster cluster;

  @BeforeAll
  static void start() {
    cluster = E2eCluster.open("start-failure");
    cluster.startOperator();
  }

  @AfterAll
  static void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  void anImageWhoseEntrypointCannotExecMakesTheProviderSayWhyAndExecutionsEndWithoutRunning() {
    cluster.create(
        cluster
            .client()
            .getKubernetesSerialization()
            .unmarshal(
                """
        apiVersion: sandboxes.dev/v1alpha1
        kind: SandboxProvider
        metadata:
          name: cannot-start
        spec:
          type: SelfManaged
          runtimes:
            - language: python
              image: %s
          selfManaged:
            runtimeClassName: gvisor
            poolSize: 1
            resources: {cpu: "250m", memory: 128Mi, ephemeralStorage: 64Mi}
        """
                    .formatted(IMAGE_WITHOUT_SLEEP),
                SandboxProvider.class));

    long started = System.nanoTime();
    Condition ready =
        await("provider cannot-start Ready=False SandboxStartFailing")
            .atMost(Duration.ofMinutes(3))
            .pollInterval(Duration.ofSeconds(1))
            .until(
                () -> readyCondition("cannot-start"),
                c ->
                    c != null
                        && "False".equals(c.getStatus())
                        && SandboxProviderReason.SANDBOX_START_FAILING
                            .value()
                            .equals(c.getReason()));
    System.out.printf(
        "SelfManaged: provider reported SandboxStartFailing %d s after it was created: %s%n",
        (System.nanoTime() - started) / 1_000_000_000, ready.getMessage());
    assertThat(ready.getMessage()).contains(IMAGE_WITHOUT_SLEEP);
    Event event = cluster.awaitEvent("SandboxProvider", "cannot-start", "SandboxStartFailing");
    assertThat(event.getNote()).contains(IMAGE_WITHOUT_SLEEP);

    CodeExecution cx = TestResources.anExecution(cluster.namespace(), "never-runs", "cannot-start");
    cx.getSpec().setAdmissionTimeoutSeconds(30);
    cluster.create(cx);
    await("never-runs Pending with the provider's message")
        .atMost(Duration.ofSeconds(25))
        .untilAsserted(
            () -> {
              CodeExecution pending = cluster.execution("never-runs");
              assertThat(pending.getStatus()).isNotNull();
              assertThat(pending.getStatus().getPhase()).isEqualTo(Phase.PENDING);
              assertThat(
                      Conditions.reason(
                          pending.getStatus().getConditions(), ConditionTypes.ACCEPTED))
                  .isEqualTo(CodeExecutionReason.PROVIDER_NOT_READY.value());
              assertThat(pending.getStatus().getMessage())
                  .contains("SandboxStartFailing")
                  .contains(IMAGE_WITHOUT_SLEEP);
            });
    CodeExecution failed = cluster.awaitTerminal("never-runs", Duration.ofSeconds(90));
    assertThat(failed.getStatus().getPhase()).isEqualTo(Phase.FAILED);
    assertThat(Conditions.reason(failed.getStatus().getConditions(), ConditionTypes.SUCCEEDED))
        .isEqualTo(CodeExecutionReason.SANDBOX_FAILED.value());
    assertThat(failed.getStatus().getMessage())
        .contains("spec.admissionTimeoutSeconds (30s)")
        .contains(IMAGE_WITHOUT_SLEEP)
        .contains("The code did not run");
    assertThat(failed.getStatus().getStartTime()).isNull();
  }

  private static Condition readyCondition(String name) {
    SandboxProvider provider = cluster.provider(name);
    return provider == null || provider.getStatus() == null
        ? null
        : Conditions.get(provider.getStatus().getConditions(), ConditionTypes.READY).orElse(null);
  }
}
