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
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.api.v1alpha1.SandboxProviderReason;
import dev.sandboxes.operator.SandboxOperator;
import dev.sandboxes.operator.backend.SandboxBackendFactory;
import dev.sandboxes.operator.backend.StartFailure;
import dev.sandboxes.operator.config.OperatorConfig;
import dev.sandboxes.operator.testing.ExecutionWaits;
import dev.sandboxes.operator.testing.FakeSandboxBackend;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.events.v1.Event;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
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
@EnableKubernetesMockClient(crud = true)
class StartFailureMockTest {

  private static final String ERROR = "runc create failed: error setting rlimits for ready process: operation not permitted";

  KubernetesClient client;

  private final FakeSandboxBackend backend = new FakeSandboxBackend(4);
  private SandboxOperator operator;

  @BeforeEach
  void startOperator() {
    SandboxBackendFactory factory = new SandboxBackendFactory().register(ProviderType.DOCKER, backend::builtFrom);
    // A Ready provider is probed again only every 10 minutes here: a flip within seconds comes from the backend's signal.
    OperatorConfig config = OperatorConfig.fromEnvironment(java.util.Map.of("SANDBOX_PROBE_INTERVAL_SECONDS", "600"));
    operator = new SandboxOperator(client, factory, config, null).start();
  }

  @AfterEach
  void stopOperator() {
    operator.stop(Duration.ofSeconds(1));
  }

  @Test
  void theProviderSaysWhyWaitingExecutionsShowItEndAtTheirDeadlineAndTheRestRunOnceItRecovers() {
    client.resource(aDockerProvider("default", "flaky")).create();
    awaitReady("flaky", "True", SandboxProviderReason.BACKEND_REACHABLE.value());

    backend.startFailure(new StartFailure(SandboxProviderReason.SANDBOX_START_FAILING, ERROR, "Check default_ulimits"));
    // Not at the next probe interval (minutes): the backend's signal makes the reconciler probe now.
    Condition ready = awaitReady("flaky", "False", SandboxProviderReason.SANDBOX_START_FAILING.value());
    assertThat(ready.getMessage()).contains(ERROR).contains("Check default_ulimits");
    await().untilAsserted(() -> assertThat(events("flaky")).anySatisfy(e -> {
      assertThat(e.getReason()).isEqualTo("SandboxStartFailing");
      assertThat(e.getNote()).isEqualTo(ready.getMessage());
    }));

    client.resource(anExecution("default", "patient", "flaky")).create();
    CodeExecution impatient = anExecution("default", "impatient", "flaky");
    impatient.getSpec().setAdmissionTimeoutSeconds(3);
    client.resource(impatient).create();

    CodeExecution waiting = ExecutionWaits.awaitReason(() -> get("patient"), ConditionTypes.ACCEPTED,
        CodeExecutionReason.PROVIDER_NOT_READY.value());
    assertThat(waiting.getStatus().getPhase()).isEqualTo(Phase.PENDING);
    assertThat(waiting.getStatus().getMessage()).contains("SandboxProvider flaky is not Ready (SandboxStartFailing)")
        .contains(ERROR).contains("spec.admissionTimeoutSeconds");

    CodeExecution gaveUp = ExecutionWaits.awaitPhase(() -> get("impatient"), Phase.FAILED);
    assertThat(Conditions.reason(gaveUp.getStatus().getConditions(), ConditionTypes.SUCCEEDED))
        .isEqualTo(CodeExecutionReason.SANDBOX_FAILED.value());
    assertThat(Conditions.get(gaveUp.getStatus().getConditions(), ConditionTypes.STARTED))
        .hasValueSatisfying(c -> assertThat(c.getStatus()).isEqualTo("False"));
    assertThat(gaveUp.getStatus().getMessage()).contains("spec.admissionTimeoutSeconds (3s)").contains(ERROR)
        .contains("The code did not run");
    assertThat(gaveUp.getStatus().getCompletionTime()).isNotNull();
    assertThat(backend.totalRuns()).isZero();
    assertThat(get("patient").getStatus().getPhase()).isEqualTo(Phase.PENDING);

    backend.startFailure(null); // a sandbox started again
    awaitReady("flaky", "True", SandboxProviderReason.BACKEND_REACHABLE.value());
    ExecutionWaits.awaitPhase(() -> get("patient"), Phase.SUCCEEDED);
    await().untilAsserted(() -> assertThat(events("flaky")).extracting(Event::getReason).contains("SandboxStartRecovered"));
    assertThat(backend.runs(get("impatient").getMetadata().getUid())).isZero();
  }

  @Test
  void aMissingProviderIsWaitedForOnlyUntilTheAdmissionDeadline() {
    CodeExecution cx = anExecution("default", "orphan", "never-created");
    cx.getSpec().setAdmissionTimeoutSeconds(8); // the operator may take seconds to start on a busy machine
    client.resource(cx).create();
    CodeExecution waiting = ExecutionWaits.awaitReason(() -> get("orphan"), ConditionTypes.ACCEPTED,
        CodeExecutionReason.PROVIDER_NOT_FOUND.value());
    assertThat(waiting.getStatus().getMessage()).contains("never-created").contains("until");
    CodeExecution failed = ExecutionWaits.awaitPhase(() -> get("orphan"), Phase.FAILED);
    assertThat(failed.getStatus().getMessage()).contains("spec.admissionTimeoutSeconds (8s)").contains("never-created")
        .contains("The code did not run");
  }

  private Condition awaitReady(String name, String status, String reason) {
    return await("provider " + name + " Ready=" + status + " (" + reason + ")").atMost(Duration.ofSeconds(20))
        .until(() -> {
          SandboxProvider provider = client.resources(SandboxProvider.class).inNamespace("default").withName(name).get();
          return provider == null || provider.getStatus() == null ? null
              : Conditions.get(provider.getStatus().getConditions(), ConditionTypes.READY)
                  .filter(c -> status.equals(c.getStatus()) && reason.equals(c.getReason())).orElse(null);
        }, c -> c != null);
  }

  private CodeExecution get(String name) {
    return client.resources(CodeExecution.class).inNamespace("default").withName(name).get();
  }

  private List<Event> events(String name) {
    return client.events().v1().events().inNamespace("default").list().getItems().stream()
        .filter(e -> name.equals(e.getRegarding().getName()))
        .toList();
  }
}
