package dev.sandboxes.operator.codeexecution;

import static dev.sandboxes.operator.testing.TestResources.aDockerProvider;
import static dev.sandboxes.operator.testing.TestResources.anExecution;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionReason;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.Phase;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.api.v1alpha1.SandboxProviderReason;
import dev.sandboxes.operator.backend.SandboxBackendFactory;
import dev.sandboxes.operator.backend.StartFailure;
import dev.sandboxes.operator.config.OperatorConfig;
import dev.sandboxes.operator.testing.FakeSandboxBackend;
import dev.sandboxes.operator.testing.OperatorMockTest;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.events.v1.Event;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Issue 19 in the operator: a provider whose sandboxes fail to start becomes Ready=False
 * (SandboxStartFailing) with the backend's error at once, not at its next probe interval; the
 * executions waiting on it show that error in their Pending condition, end at their admission
 * deadline without running, and the others run once a sandbox starts again.
 */
@Tag("mock")
class StartFailureMockTest extends OperatorMockTest {

  private static final String ERROR =
      "runc create failed: error setting rlimits for ready process: operation not permitted";

  private final FakeSandboxBackend backend = new FakeSandboxBackend(4);

  @BeforeEach
  void start() {
    SandboxBackendFactory factory =
        new SandboxBackendFactory().register(ProviderType.DOCKER, backend::builtFrom);
    // A Ready provider is probed again only every 10 minutes here: a flip within seconds comes from
    // the backend's signal.
    OperatorConfig config =
        OperatorConfig.fromEnvironment(java.util.Map.of("SANDBOX_PROBE_INTERVAL_SECONDS", "600"));
    startOperator(factory, config);
  }

  @Test
  void theProviderSaysWhyWaitingExecutionsShowItEndAtTheirDeadlineAndTheRestRunOnceItRecovers() {
    client.resource(aDockerProvider("default", "flaky")).create();
    awaitReady("flaky", "True", SandboxProviderReason.BACKEND_REACHABLE.value());

    backend.startFailure(
        new StartFailure(
            SandboxProviderReason.SANDBOX_START_FAILING, ERROR, "Check default_ulimits"));
    // Not at the next probe interval (minutes): the backend's signal makes the reconciler probe
    // now.
    Condition ready =
        Conditions.get(
                awaitReady("flaky", "False", SandboxProviderReason.SANDBOX_START_FAILING.value())
                    .getStatus()
                    .getConditions(),
                ConditionTypes.READY)
            .orElseThrow();
    assertThat(ready.getMessage()).contains(ERROR).contains("Check default_ulimits");
    await()
        .untilAsserted(
            () ->
                assertThat(events("flaky"))
                    .anySatisfy(
                        e -> {
                          assertThat(e.getReason()).isEqualTo("SandboxStartFailing");
                          assertThat(e.getNote()).isEqualTo(ready.getMessage());
                        }));

    client.resource(anExecution("default", "patient", "flaky")).create();
    CodeExecution impatient = anExecution("default", "impatient", "flaky");
    impatient.getSpec().setAdmissionTimeoutSeconds(3);
    client.resource(impatient).create();

    CodeExecution waiting =
        awaitReason(
            "patient", ConditionTypes.ACCEPTED, CodeExecutionReason.PROVIDER_NOT_READY.value());
    assertThat(waiting.getStatus().getPhase()).isEqualTo(Phase.PENDING);
    assertThat(waiting.getStatus().getMessage())
        .contains("SandboxProvider flaky is not Ready (SandboxStartFailing)")
        .contains(ERROR)
        .contains("spec.admissionTimeoutSeconds");

    CodeExecution gaveUp = awaitPhase("impatient", Phase.FAILED);
    assertThat(Conditions.reason(gaveUp.getStatus().getConditions(), ConditionTypes.SUCCEEDED))
        .isEqualTo(CodeExecutionReason.SANDBOX_FAILED.value());
    assertThat(Conditions.get(gaveUp.getStatus().getConditions(), ConditionTypes.STARTED))
        .hasValueSatisfying(c -> assertThat(c.getStatus()).isEqualTo("False"));
    assertThat(gaveUp.getStatus().getMessage())
        .contains("spec.admissionTimeoutSeconds (3s)")
        .contains(ERROR)
        .contains("The code did not run");
    assertThat(gaveUp.getStatus().getCompletionTime()).isNotNull();
    assertThat(backend.totalRuns()).isZero();
    assertThat(get("patient").getStatus().getPhase()).isEqualTo(Phase.PENDING);

    backend.startFailure(null); // a sandbox started again
    awaitReady("flaky", "True", SandboxProviderReason.BACKEND_REACHABLE.value());
    awaitPhase("patient", Phase.SUCCEEDED);
    await()
        .untilAsserted(
            () ->
                assertThat(events("flaky"))
                    .extracting(Event::getReason)
                    .contains("SandboxStartRecovered"));
    assertThat(backend.runs(get("impatient").getMetadata().getUid())).isZero();
  }

  @Test
  void aMissingProviderIsWaitedForOnlyUntilTheAdmissionDeadline() {
    CodeExecution cx = anExecution("default", "orphan", "never-created");
    cx.getSpec()
        .setAdmissionTimeoutSeconds(8); // the operator may take seconds to start on a busy machine
    client.resource(cx).create();
    CodeExecution waiting =
        awaitReason(
            "orphan", ConditionTypes.ACCEPTED, CodeExecutionReason.PROVIDER_NOT_FOUND.value());
    assertThat(waiting.getStatus().getMessage()).contains("never-created").contains("until");
    CodeExecution failed = awaitPhase("orphan", Phase.FAILED);
    assertThat(failed.getStatus().getMessage())
        .contains("spec.admissionTimeoutSeconds (8s)")
        .contains("never-created")
        .contains("The code did not run");
  }
}
