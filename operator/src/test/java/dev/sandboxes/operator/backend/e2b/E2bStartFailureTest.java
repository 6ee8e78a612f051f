package dev.sandboxes.operator.backend.e2b;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sandboxes.api.v1alpha1.ExecutionMode;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.api.v1alpha1.SandboxProviderReason;
import dev.sandboxes.operator.backend.ProbeResult;
import dev.sandboxes.operator.backend.RunControl;
import dev.sandboxes.operator.backend.StartFailures;
import dev.sandboxes.operator.config.OperatorConfig;
import dev.sandboxes.operator.execution.ExecutionOutcome;
import dev.sandboxes.operator.execution.ExecutionRequest;
import dev.sandboxes.operator.execution.Termination;
import dev.sandboxes.operator.provider.BackendContext;
import dev.sandboxes.operator.provider.ProviderSettings;
import dev.sandboxes.operator.testing.FakeE2bServer;
import dev.sandboxes.operator.testing.TestResources;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Issue 19 on the E2B backend: sandboxes are created, but their envd does not answer (the service's
 * proxy says the port is not open). After a few such runs in a row, none of which ran code, the
 * provider is not Ready with the service's own answer; while it is not, its probe tries a start
 * itself with backoff, and the first that works makes it Ready again.
 */
@Tag("unit")
class E2bStartFailureTest {

  private static final String SECRET = "e2b-key";
  private static final E2bTimings FAST =
      new E2bTimings(
          Duration.ofSeconds(30),
          Duration.ofSeconds(30),
          Duration.ofMillis(200),
          Duration.ofSeconds(1),
          Duration.ofMinutes(10));

  private final String apiKey = FakeE2bServer.newApiKey();
  private FakeE2bServer fake;
  private E2bSandboxBackend backend;

  @BeforeEach
  void start() throws Exception {
    fake = new FakeE2bServer(apiKey);
    SandboxProvider provider = TestResources.anE2bProvider("team-a", "e2b", fake.apiUrl(), SECRET);
    OperatorConfig config = OperatorConfig.defaults();
    backend =
        new E2bSandboxBackend(
            new BackendContext(
                "provider-uid",
                ProviderSettings.of(provider, config),
                provider.getSpec(),
                Map.of(SECRET, Map.of("apiKey", apiKey)),
                config,
                null),
            fake.sandboxUrl(),
            FAST);
  }

  @AfterEach
  void stop() {
    try {
      await()
          .untilAsserted(
              () -> assertThat(fake.liveSandboxes()).as("sandboxes left in the fake").isEmpty());
    } finally {
      backend.close();
      fake.close();
    }
  }

  @Test
  void envdThatDoesNotAnswerMakesTheProviderNotReadyUntilATrialStartWorks() throws Exception {
    assertThat(backend.probe().ready()).isTrue();
    fake.envdDown(true);

    for (int i = 1; i <= StartFailures.THRESHOLD; i++) {
      assertThat(backend.startFailure()).as("after %d failure(s)", i - 1).isEmpty();
      ExecutionOutcome outcome = run();
      assertThat(outcome.termination()).isEqualTo(Termination.SANDBOX_FAILED);
      assertThat(outcome.detail())
          .contains("envd in the sandbox does not answer")
          .contains("port is not open")
          .contains("the code did not run");
    }
    assertThat(backend.startFailure())
        .hasValueSatisfying(
            f -> {
              assertThat(f.reason()).isEqualTo(SandboxProviderReason.SANDBOX_START_FAILING);
              assertThat(f.error()).contains("port is not open").doesNotContain(apiKey);
              assertThat(f.hint()).contains("template");
            });
    ProbeResult failing = backend.probe();
    assertThat(failing.ready()).isFalse();
    assertThat(failing.reason()).isEqualTo(SandboxProviderReason.SANDBOX_START_FAILING);
    assertThat(failing.message())
        .contains("envd in the sandbox does not answer")
        .doesNotContain(apiKey);

    fake.envdDown(false);
    long fixed = System.nanoTime();
    await("a trial start in the probe makes the provider Ready")
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofSeconds(1))
        .until(() -> backend.probe().ready());
    System.out.printf(
        "E2B: Ready again %d ms after envd answered again (first trial start after 10 s)%n",
        (System.nanoTime() - fixed) / 1_000_000);
    assertThat(backend.startFailure()).isEmpty();
  }

  private ExecutionOutcome run() throws Exception {
    ExecutionRequest request =
        new ExecutionRequest(
            "test",
            "e2b-run",
            UUID.randomUUID().toString(),
            Language.PYTHON,
            ExecutionMode.FUNCTION,
            "main",
            "def main():\n    return 1\n",
            new ObjectMapper().readTree("{}"),
            Duration.ofSeconds(20),
            65536);
    return backend.execute(
        backend.tryAcquire(Language.PYTHON).orElseThrow(), request, RunControl.detached());
  }
}
