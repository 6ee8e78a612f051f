package dev.sandboxes.operator.backend.aliyun;

import static dev.sandboxes.operator.testing.TestResources.ALIYUN_SECRET;
import static dev.sandboxes.operator.testing.TestResources.aliyunCredentials;
import static dev.sandboxes.operator.testing.TestResources.anAliyunProvider;
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
import dev.sandboxes.operator.testing.FakeAgentRunServer;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Issue 19 on the Aliyun backend, against {@link FakeAgentRunServer}: a template stuck in CREATING,
 * and sandboxes that never pass their health check. Either way the provider says why
 * (SandboxStartFailing, AgentRun's own words) and no execution is sent to a sandbox that cannot
 * start; a trial start in the probe makes it Ready again once AgentRun recovers.
 */
@Tag("unit")
class AliyunStartFailureTest {

  /**
   * AliyunSandboxBackendTest's short waits; templateWait 100 ms, so a template is "stuck" after 3
   * s.
   */
  private static final AgentRunTimings FAST =
      new AgentRunTimings(
          Duration.ofSeconds(3),
          3,
          Duration.ofMillis(50),
          Duration.ofSeconds(10),
          Duration.ofMillis(200),
          Duration.ofSeconds(1),
          Duration.ofSeconds(3),
          Duration.ofMillis(50),
          Duration.ofMillis(100),
          300,
          Duration.ofHours(1),
          Duration.ofMinutes(10),
          64L * 1024 * 1024);

  private FakeAgentRunServer fake;
  private AliyunSandboxBackend backend;

  @BeforeEach
  void startFake() {
    fake = new FakeAgentRunServer();
  }

  @AfterEach
  void noSandboxLeftBehind() {
    try {
      await()
          .untilAsserted(
              () -> assertThat(fake.liveSandboxes()).as("sandboxes left in AgentRun").isEmpty());
    } finally {
      if (backend != null) {
        backend.close();
      }
      fake.close();
    }
  }

  @Test
  void aTemplateStuckInCreatingTurnsFromProbingIntoSandboxStartFailing() throws Exception {
    fake.withTemplate("stuck", "CREATING");
    backend = backend(p -> p.getSpec().getAliyun().setTemplateName("stuck"));

    ProbeResult first = backend.startIfReady(backend.probe());
    assertThat(first.ready()).isFalse();
    assertThat(first.reason()).isEqualTo(SandboxProviderReason.PROBING);
    assertThat(first.message()).contains("stuck is CREATING since");

    // 30 probe waits of 100 ms: from then on it is stuck, with the same "since" as before.
    Thread.sleep(
        FAST.templateWait()
            .multipliedBy(AliyunSandboxBackend.TEMPLATE_STUCK_AFTER_WAITS)
            .toMillis());
    ProbeResult stuck = backend.startIfReady(backend.probe());
    assertThat(stuck.ready()).isFalse();
    assertThat(stuck.reason()).isEqualTo(SandboxProviderReason.SANDBOX_START_FAILING);
    String since =
        first.message().substring(first.message().indexOf("since "), first.message().indexOf(';'));
    assertThat(stuck.message())
        .contains("stuck is CREATING " + since)
        .contains("no sandbox can start from it")
        .contains("AgentRun console");
    assertThat(fake.count("CreateSandbox")).isZero();
  }

  @Test
  void sandboxesThatNeverBecomeHealthyMakeTheProviderNotReadyUntilATrialStartWorks() {
    backend = backend(p -> {});
    assertThat(backend.startIfReady(backend.probe()).ready()).isTrue();
    fake.healthChecksUntilOk(1_000_000);

    for (int i = 1; i <= StartFailures.THRESHOLD; i++) {
      assertThat(backend.startFailure()).as("after %d failure(s)", i - 1).isEmpty();
      ExecutionOutcome outcome = run();
      assertThat(outcome.termination()).isEqualTo(Termination.SANDBOX_FAILED);
      assertThat(outcome.detail()).contains("did not pass its health check");
    }
    assertThat(backend.startFailure())
        .hasValueSatisfying(
            f -> {
              assertThat(f.reason()).isEqualTo(SandboxProviderReason.SANDBOX_START_FAILING);
              assertThat(f.error())
                  .contains("did not pass its health check")
                  .doesNotContain(FakeAgentRunServer.ACCESS_KEY_SECRET);
            });
    ProbeResult failing = backend.startIfReady(backend.probe());
    assertThat(failing.ready()).isFalse();
    assertThat(failing.reason()).isEqualTo(SandboxProviderReason.SANDBOX_START_FAILING);
    assertThat(failing.message())
        .contains("did not pass its health check")
        .contains("AgentRun console");

    fake.healthChecksUntilOk(0);
    await("a trial start in the probe makes the provider Ready")
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofSeconds(1))
        .until(() -> backend.startIfReady(backend.probe()).ready());
    assertThat(backend.startFailure()).isEmpty();
  }

  private AliyunSandboxBackend backend(Consumer<SandboxProvider> customize) {
    SandboxProvider provider = anAliyunProvider("team-a", "aliyun", fake);
    customize.accept(provider);
    ProviderSettings settings = ProviderSettings.of(provider, OperatorConfig.defaults());
    BackendContext context =
        new BackendContext(
            "uid-" + UUID.randomUUID(),
            settings,
            provider.getSpec(),
            Map.of(
                ALIYUN_SECRET,
                aliyunCredentials(
                    FakeAgentRunServer.ACCESS_KEY_ID, FakeAgentRunServer.ACCESS_KEY_SECRET)),
            OperatorConfig.defaults(),
            null);
    return new AliyunSandboxBackend(context, FAST, Clock.systemUTC());
  }

  private ExecutionOutcome run() {
    try {
      String uid = UUID.randomUUID().toString();
      ExecutionRequest request =
          new ExecutionRequest(
              "team-a",
              "cx-" + uid.substring(0, 8),
              uid,
              Language.PYTHON,
              ExecutionMode.FUNCTION,
              "main",
              "def main():\n    return 1\n",
              new ObjectMapper().readTree("{}"),
              Duration.ofSeconds(20),
              65536);
      return backend.execute(
          backend.tryAcquire(Language.PYTHON).orElseThrow(), request, RunControl.detached());
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
  }
}
