package dev.sandboxes.operator.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.client.ExecutionResult;
import dev.sandboxes.client.SandboxClient;
import dev.sandboxes.client.SandboxExecutionException;
import dev.sandboxes.operator.backend.SandboxBackendFactory;
import dev.sandboxes.operator.execution.ExecutionOutcome;
import dev.sandboxes.operator.execution.Termination;
import dev.sandboxes.operator.runner.RunnerReport;
import dev.sandboxes.operator.runner.StreamCapture;
import dev.sandboxes.operator.testing.FakeSandboxBackend;
import dev.sandboxes.operator.testing.OperatorMockTest;
import dev.sandboxes.operator.testing.TestResources;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The Java client against the operator on the CRUD mock server with an in-memory backend. */
@Tag("mock")
class SandboxClientMockTest extends OperatorMockTest {

  private final FakeSandboxBackend backend = new FakeSandboxBackend(4);

  @BeforeEach
  void start() {
    startOperator(new SandboxBackendFactory().register(ProviderType.DOCKER, backend::builtFrom));
    client
        .resource(TestResources.asDefault(TestResources.aDockerProvider("agents", "sandboxes")))
        .create();
  }

  @Test
  void executeReturnsATypedResultAndCleansUp() {
    ExecutionResult result =
        new SandboxClient(client, "agents")
            .execute(
                "def main(x):\n    return x",
                Language.PYTHON,
                Map.of("x", 21),
                Duration.ofSeconds(10));
    assertThat(result.succeeded()).isTrue();
    assertThat(result.reason()).isEqualTo("Completed");
    assertThat(result.exitCode()).isZero();
    assertThat(result.result().get("x").asInt()).isEqualTo(21);
    assertThat(result.stdout()).startsWith("ran exec-");
    assertThat(client.resources(CodeExecution.class).inNamespace("agents").list().getItems())
        .isEmpty();
  }

  @Test
  void artifactsComeWithTheirBytesReadBeforeTheExecutionIsDeleted() {
    backend.behaviour(
        request -> {
          var plain =
              dev.sandboxes.operator.testing.FakeSandboxBackend.succeedWithArguments(request);
          var artifacts =
              new dev.sandboxes.operator.runner.CollectedArtifacts(
                  List.of(
                      new dev.sandboxes.operator.runner.Artifact(
                          "figure-1.png", new byte[] {(byte) 0x89, 'P', 'N', 'G', 0, 1}),
                      new dev.sandboxes.operator.runner.Artifact(
                          "out/data.csv",
                          "a,b\n".getBytes(java.nio.charset.StandardCharsets.UTF_8))),
                  List.of(),
                  0,
                  false,
                  null);
          return new ExecutionOutcome(
              plain.termination(),
              0,
              plain.stdout(),
              plain.stderr(),
              new RunnerReport("ok", null, null, null, null, null, null, artifacts),
              null,
              plain.startTime(),
              plain.completionTime(),
              null);
        });
    ExecutionResult result =
        new SandboxClient(client, "agents")
            .execute("def main():\n    pass", Language.PYTHON, Map.of(), Duration.ofSeconds(10));
    assertThat(result.artifacts())
        .extracting(a -> a.name(), a -> a.sizeBytes(), a -> a.contentType())
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("figure-1.png", 6L, "image/png"),
            org.assertj.core.groups.Tuple.tuple("out/data.csv", 4L, "text/csv"));
    assertThat(result.artifacts().get(0).bytes()).containsExactly((byte) 0x89, 'P', 'N', 'G', 0, 1);
    assertThat(
            new String(result.artifacts().get(1).bytes(), java.nio.charset.StandardCharsets.UTF_8))
        .isEqualTo("a,b\n");
    assertThat(result.artifacts().get(1).sha256()).hasSize(64);
  }

  @Test
  void keepingTheExecutionLeavesItForKubectl() {
    SandboxClient sandboxes =
        new SandboxClient(client, "agents", SandboxClient.Options.defaults().keepingTheExecution());
    ExecutionResult result =
        sandboxes.execute(
            "def main():\n    return 1", Language.PYTHON, Map.of(), Duration.ofSeconds(10));
    assertThat(
            client
                .resources(CodeExecution.class)
                .inNamespace("agents")
                .withName(result.name())
                .get())
        .isNotNull();
  }

  @Test
  void failuresBecomeTypedExceptionsCarryingTheOutput() {
    backend.behaviour(
        request ->
            new ExecutionOutcome(
                Termination.EXITED,
                1,
                StreamCapture.EMPTY,
                new StreamCapture("Traceback ... ValueError: bad\n", 30, false),
                new RunnerReport("error", "Exception", "ValueError: bad", null, null),
                null,
                Instant.now(),
                Instant.now(),
                null));
    SandboxClient sandboxes = new SandboxClient(client, "agents");
    assertThatThrownBy(
            () -> sandboxes.execute("x", Language.PYTHON, Map.of(), Duration.ofSeconds(10)))
        .isInstanceOfSatisfying(
            SandboxExecutionException.CodeFailedException.class,
            e -> {
              assertThat(e.getMessage()).contains("UserCodeError").contains("ValueError: bad");
              assertThat(e.result().stderr()).contains("ValueError: bad");
              assertThat(e.result().exitCode()).isEqualTo(1);
            });

    backend.behaviour(
        request ->
            ExecutionOutcome.failure(
                Termination.TIMED_OUT, null, Instant.now(), Instant.now(), null));
    assertThatThrownBy(
            () -> sandboxes.execute("x", Language.PYTHON, Map.of(), Duration.ofSeconds(3)))
        .isInstanceOf(SandboxExecutionException.TimedOutException.class);

    backend.behaviour(
        request ->
            ExecutionOutcome.failure(
                Termination.SANDBOX_FAILED, null, Instant.now(), Instant.now(), "engine gone"));
    assertThatThrownBy(
            () -> sandboxes.execute("x", Language.PYTHON, Map.of(), Duration.ofSeconds(3)))
        .isInstanceOf(SandboxExecutionException.SandboxUnavailableException.class);
  }

  @Test
  void anUnknownProviderFailsFastInsteadOfWaiting() {
    SandboxClient sandboxes =
        new SandboxClient(client, "agents", SandboxClient.Options.defaults().withProvider("nope"));
    long started = System.nanoTime();
    assertThatThrownBy(
            () -> sandboxes.execute("x", Language.PYTHON, Map.of(), Duration.ofSeconds(30)))
        .isInstanceOf(SandboxExecutionException.InvalidExecutionException.class)
        .hasMessageContaining("nope");
    assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(20));
  }
}
