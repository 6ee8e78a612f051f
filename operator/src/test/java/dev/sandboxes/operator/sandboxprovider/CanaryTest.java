package dev.sandboxes.operator.sandboxprovider;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.CanarySpec;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.RuntimeSpec;
import dev.sandboxes.api.v1alpha1.SandboxProviderReason;
import dev.sandboxes.api.v1alpha1.SandboxProviderSpec;
import dev.sandboxes.api.v1alpha1.SandboxProviderStatus;
import dev.sandboxes.operator.backend.CanaryRun;
import dev.sandboxes.operator.execution.ExecutionOutcome;
import dev.sandboxes.operator.execution.Termination;
import dev.sandboxes.operator.runner.RunnerReport;
import dev.sandboxes.operator.runner.StreamCapture;
import io.fabric8.kubernetes.api.model.Condition;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The canary's verdict and how it appears in a provider status (pure parts of {@link Canary}). */
@Tag("unit")
class CanaryTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Instant NOW = Instant.parse("2026-12-06T12:00:00Z");

  @Test
  void onlyTheExpectedResultAndOutputPass() throws Exception {
    ExecutionOutcome good = exited(0, "canary\n", "{\"sum\":42,\"echo\":\"✓\"}");
    assertThat(CanaryRun.evaluate(good, Language.PYTHON, 812, NOW))
        .isEqualTo(
            new CanaryRun.Result(
                true, "a python execution ran end to end in 812 ms", 812, NOW, Language.PYTHON));

    assertThat(
            CanaryRun.evaluate(
                    exited(0, "canary\n", "{\"sum\":41,\"echo\":\"✓\"}"), Language.PYTHON, 5, NOW)
                .message())
        .isEqualTo(
            "a python execution failed after 5 ms: it returned {\"sum\":41,\"echo\":\"✓\"} instead of {\"sum\":42,\"echo\":\"✓\"}");
    assertThat(
            CanaryRun.evaluate(
                    exited(0, "", "{\"sum\":42,\"echo\":\"✓\"}"), Language.PYTHON, 5, NOW)
                .passed())
        .isFalse();
    assertThat(
            CanaryRun.evaluate(exited(1, "canary\n", null), Language.JAVASCRIPT, 5, NOW).message())
        .startsWith("a javascript execution failed after 5 ms: it exited with code 1");
    assertThat(
            CanaryRun.evaluate(
                    ExecutionOutcome.failure(
                        Termination.SANDBOX_FAILED, "s", NOW, NOW, "AgentRun said no"),
                    Language.PYTHON,
                    5,
                    NOW)
                .message())
        .endsWith("the sandbox failed (AgentRun said no)");
    assertThat(
            CanaryRun.evaluate(
                    ExecutionOutcome.failure(Termination.TIMED_OUT, "s", NOW, NOW, null),
                    Language.PYTHON,
                    5,
                    NOW)
                .message())
        .endsWith("it timed out");
  }

  @Test
  void theConditionSaysPassedFailedOrWhyNotYet() {
    SandboxProviderSpec spec = new SandboxProviderSpec();
    spec.setCanary(new CanarySpec());

    assertThat(condition(spec, null, true))
        .extracting(Condition::getStatus, Condition::getReason, Condition::getMessage)
        .containsExactly(
            "Unknown",
            SandboxProviderReason.CANARY_PENDING.value(),
            "The first canary is running.");
    CanaryRun.Result passed =
        new CanaryRun.Result(
            true, "a python execution ran end to end in 90 ms", 90, NOW, Language.PYTHON);
    assertThat(condition(spec, passed, true))
        .extracting(Condition::getStatus, Condition::getReason, Condition::getMessage)
        .containsExactly(
            "True",
            SandboxProviderReason.CANARY_SUCCEEDED.value(),
            "A python execution ran end to end in 90 ms.");
    CanaryRun.Result failed =
        new CanaryRun.Result(
            false, "a python execution failed after 7 ms: it timed out", 7, NOW, Language.PYTHON);
    assertThat(condition(spec, failed, true))
        .extracting(Condition::getStatus, Condition::getReason)
        .containsExactly("False", SandboxProviderReason.CANARY_FAILED.value());
    assertThat(condition(spec, failed, false))
        .extracting(Condition::getStatus, Condition::getMessage)
        .containsExactly(
            "Unknown",
            "The provider is not Ready; the canary runs once it is (the last one failed).");
    CanaryRun.Result noSandbox =
        new CanaryRun.Result(
            null,
            "found no free python sandbox within 60s; it tries again at the next interval",
            60000,
            NOW,
            Language.PYTHON);
    assertThat(condition(spec, noSandbox, true))
        .extracting(Condition::getStatus, Condition::getReason)
        .containsExactly("Unknown", SandboxProviderReason.CANARY_PENDING.value());

    SandboxProviderStatus status = status();
    Canary.applyTo(spec, status, passed, true, 4, NOW);
    assertThat(status.getCanary().getLatencyMillis()).isEqualTo(90);
    assertThat(status.getCanary().getLastRunTime()).isEqualTo("2026-12-06T12:00:00Z");
    assertThat(status.getConditions())
        .allSatisfy(c -> assertThat(c.getObservedGeneration()).isEqualTo(4));
    spec.setCanary(null);
    Canary.applyTo(spec, status, passed, true, 5, NOW);
    assertThat(status.getCanary()).isNull();
    assertThat(Conditions.get(status.getConditions(), ConditionTypes.CANARY_PASSED)).isEmpty();
  }

  @Test
  void theLanguageIsTheSpecsOrTheFirstServedOne() {
    SandboxProviderSpec spec = new SandboxProviderSpec();
    assertThat(Canary.language(spec)).isEqualTo(Language.PYTHON);
    RuntimeSpec js = new RuntimeSpec();
    js.setLanguage(Language.JAVASCRIPT);
    spec.setRuntimes(List.of(js));
    assertThat(Canary.language(spec)).isEqualTo(Language.JAVASCRIPT);
    spec.setCanary(new CanarySpec());
    spec.getCanary().setLanguage(Language.PYTHON);
    assertThat(Canary.language(spec)).isEqualTo(Language.PYTHON);
    assertThat(SandboxProviderValidator.validate(withType(spec)))
        .contains(
            "spec.canary.language is python but spec.runtimes does not serve it; add that runtime or pick a served language");
    spec.getCanary().setIntervalSeconds(5);
    assertThat(SandboxProviderValidator.validate(withType(spec)))
        .contains("spec.canary.intervalSeconds must be between 30 and 86400 (is 5)");
  }

  private static SandboxProviderSpec withType(SandboxProviderSpec spec) {
    spec.setType(dev.sandboxes.api.v1alpha1.ProviderType.DOCKER);
    dev.sandboxes.api.v1alpha1.DockerSpec docker = new dev.sandboxes.api.v1alpha1.DockerSpec();
    docker.setHost("unix:///run/podman.sock");
    spec.setDocker(docker);
    return spec;
  }

  private static Condition condition(
      SandboxProviderSpec spec, CanaryRun.Result last, boolean ready) {
    SandboxProviderStatus status = status();
    Canary.applyTo(spec, status, last, ready, 1, NOW);
    return Conditions.get(status.getConditions(), ConditionTypes.CANARY_PASSED).orElseThrow();
  }

  private static SandboxProviderStatus status() {
    SandboxProviderStatus status = new SandboxProviderStatus();
    status.setConditions(new ArrayList<>());
    return status;
  }

  private static ExecutionOutcome exited(int exitCode, String stdout, String result)
      throws Exception {
    RunnerReport report =
        new RunnerReport("ok", null, null, result == null ? null : JSON.readTree(result), null);
    return new ExecutionOutcome(
        Termination.EXITED,
        exitCode,
        new StreamCapture(stdout, stdout.length(), false),
        StreamCapture.EMPTY,
        report,
        "s",
        NOW,
        NOW,
        null);
  }
}
