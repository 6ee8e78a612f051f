package dev.sandboxes.operator.codeexecution;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionReason;
import dev.sandboxes.api.v1alpha1.CodeExecutionStatus;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.operator.testing.TestResources;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import java.time.Instant;
import java.util.function.Function;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The status recorder's own writes on the CRUD mock: the sandbox id from a run's thread, the error
 * status.
 */
@Tag("mock")
@EnableKubernetesMockClient(crud = true)
class CodeExecutionStatusRecorderMockTest {

  private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");

  KubernetesClient client;

  @Test
  void aStartedExecutionGetsItsSandboxIdAndAFinishedOneRefusesIt() {
    CodeExecutionStatusRecorder recorder =
        new CodeExecutionStatusRecorder(new ExecutionStore(client, client));
    CodeExecution started =
        stored(
            "started",
            cx -> CodeExecutionStatusCalculator.started(cx, "p", ProviderType.E2B, null, T0));
    recorder.recordSandboxId(
        ResourceID.fromResource(started), started.getMetadata().getUid(), "sbx-1");
    assertThat(read("started").getStatus().getSandbox().getId()).isEqualTo("sbx-1");

    CodeExecution finished =
        stored(
            "finished",
            cx -> CodeExecutionStatusCalculator.started(cx, "p", ProviderType.E2B, null, T0));
    finished = store(finished, CodeExecutionStatusCalculator.interrupted(finished, null, T0));
    CodeExecution done = finished;
    assertThatThrownBy(
            () ->
                recorder.recordSandboxId(
                    ResourceID.fromResource(done), done.getMetadata().getUid(), "sbx-2"))
        .as("the backend then sends no code")
        .isInstanceOf(IllegalStateException.class);
    assertThat(read("finished").getStatus().getSandbox().getId()).isNull();

    CodeExecution pending =
        stored(
            "pending", cx -> CodeExecutionStatusCalculator.queued(cx, "p", ProviderType.E2B, T0));
    assertThatThrownBy(
            () ->
                recorder.recordSandboxId(
                    ResourceID.fromResource(pending), pending.getMetadata().getUid(), "x"))
        .isInstanceOf(IllegalStateException.class);
  }

  @Test
  void aFailedReconcileOfAPendingExecutionSaysItRetriesAndLeavesAStartedOneAlone() {
    CodeExecutionStatusRecorder recorder =
        new CodeExecutionStatusRecorder(new ExecutionStore(client, client));
    CodeExecution waiting =
        stored(
            "waiting",
            cx ->
                CodeExecutionStatusCalculator.waiting(
                    cx, CodeExecutionReason.PROVIDER_NOT_READY, "p is not Ready.", T0));
    recorder.recordRetrying(waiting, null, new KubernetesClientException("the API server said no"));
    CodeExecutionStatus status = read("waiting").getStatus();
    assertThat(status.getMessage())
        .contains("(KubernetesClientException) and retries")
        .doesNotContain("said no");
    assertThat(Conditions.reason(status.getConditions(), ConditionTypes.ACCEPTED))
        .isEqualTo(CodeExecutionReason.PROVIDER_NOT_READY.value());

    CodeExecution started =
        stored(
            "running",
            cx -> CodeExecutionStatusCalculator.started(cx, "p", ProviderType.E2B, "sbx", T0));
    recorder.recordRetrying(started, null, new IllegalStateException("boom"));
    assertThat(read("running").getStatus().getMessage()).isEqualTo("Running on SandboxProvider p.");
  }

  private CodeExecution stored(String name, Function<CodeExecution, CodeExecutionStatus> status) {
    CodeExecution created =
        client.resource(TestResources.anExecution("default", name, "p")).create();
    return store(created, status.apply(created));
  }

  private CodeExecution store(CodeExecution cx, CodeExecutionStatus status) {
    cx.setStatus(status);
    return client.resource(cx).updateStatus();
  }

  private CodeExecution read(String name) {
    return client.resources(CodeExecution.class).inNamespace("default").withName(name).get();
  }
}
