package dev.sandboxes.operator.codeexecution;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionReason;
import dev.sandboxes.api.v1alpha1.CodeExecutionStatus;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.ExecutionMode;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.OutputLimitAction;
import dev.sandboxes.api.v1alpha1.Phase;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.operator.execution.ExecutionOutcome;
import dev.sandboxes.operator.execution.ExecutionRequest;
import dev.sandboxes.operator.execution.Termination;
import dev.sandboxes.operator.runner.RunnerReport;
import dev.sandboxes.operator.runner.StreamCapture;
import dev.sandboxes.operator.testing.TestResources;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

@Tag("unit")
class CodeExecutionStatusCalculatorTest {

  private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");
  private static final StreamCapture CUT = new StreamCapture("x", 100_000, true);

  static Stream<Arguments> outcomes() {
    return Stream.of(
        // termination, exit, report, stdout, action, expected succeeded, expected reason
        Arguments.of(
            Termination.EXITED,
            0,
            ok(),
            StreamCapture.EMPTY,
            OutputLimitAction.TRUNCATE,
            true,
            "Completed"),
        Arguments.of(
            Termination.EXITED, 0, ok(), CUT, OutputLimitAction.TRUNCATE, true, "Completed"),
        Arguments.of(
            Termination.EXITED, 0, ok(), CUT, OutputLimitAction.FAIL, false, "OutputLimitExceeded"),
        Arguments.of(
            Termination.EXITED,
            1,
            error("Exception", "ZeroDivisionError: division by zero"),
            StreamCapture.EMPTY,
            OutputLimitAction.TRUNCATE,
            false,
            "UserCodeError"),
        Arguments.of(
            Termination.EXITED,
            3,
            new RunnerReport("exit", null, null, null, null),
            StreamCapture.EMPTY,
            OutputLimitAction.TRUNCATE,
            false,
            "UserCodeError"),
        // A MemoryError the code's process reports is not evidence about the sandbox's limit.
        Arguments.of(
            Termination.EXITED,
            1,
            error("MemoryError", "MemoryError: "),
            StreamCapture.EMPTY,
            OutputLimitAction.TRUNCATE,
            false,
            "UserCodeError"),
        // SIGKILL alone is not OutOfMemory: the backend returns OUT_OF_MEMORY when it has evidence.
        Arguments.of(
            Termination.EXITED,
            137,
            RunnerReport.NONE,
            StreamCapture.EMPTY,
            OutputLimitAction.TRUNCATE,
            false,
            "UserCodeError"),
        Arguments.of(
            Termination.EXITED,
            139,
            RunnerReport.NONE,
            StreamCapture.EMPTY,
            OutputLimitAction.TRUNCATE,
            false,
            "UserCodeError"),
        // Records that contradict the exit code, or each other, are never believed.
        Arguments.of(
            Termination.EXITED,
            0,
            error("MemoryError", "MemoryError: "),
            StreamCapture.EMPTY,
            OutputLimitAction.TRUNCATE,
            false,
            "UserCodeError"),
        Arguments.of(
            Termination.EXITED,
            137,
            ok(),
            StreamCapture.EMPTY,
            OutputLimitAction.TRUNCATE,
            false,
            "UserCodeError"),
        Arguments.of(
            Termination.EXITED,
            0,
            RunnerReport.untrusted("2 done records arrived"),
            StreamCapture.EMPTY,
            OutputLimitAction.TRUNCATE,
            false,
            "UserCodeError"),
        Arguments.of(
            Termination.EXITED,
            0,
            new RunnerReport("exit", null, null, null, null, 0, null),
            StreamCapture.EMPTY,
            OutputLimitAction.TRUNCATE,
            true,
            "Completed"),
        Arguments.of(
            Termination.EXITED,
            70,
            RunnerReport.NONE,
            StreamCapture.EMPTY,
            OutputLimitAction.TRUNCATE,
            false,
            "SandboxFailed"),
        // The once-only marker refused the envelope: the code did not run in this sandbox.
        Arguments.of(
            Termination.EXITED,
            73,
            RunnerReport.NONE,
            StreamCapture.EMPTY,
            OutputLimitAction.TRUNCATE,
            false,
            "SandboxFailed"),
        Arguments.of(
            Termination.EXITED,
            0,
            new RunnerReport("ok", null, null, null, "too big"),
            StreamCapture.EMPTY,
            OutputLimitAction.TRUNCATE,
            false,
            "UserCodeError"),
        Arguments.of(
            Termination.TIMED_OUT,
            null,
            RunnerReport.NONE,
            StreamCapture.EMPTY,
            OutputLimitAction.TRUNCATE,
            false,
            "TimedOut"),
        Arguments.of(
            Termination.OUT_OF_MEMORY,
            null,
            RunnerReport.NONE,
            StreamCapture.EMPTY,
            OutputLimitAction.TRUNCATE,
            false,
            "OutOfMemory"),
        Arguments.of(
            Termination.SANDBOX_FAILED,
            null,
            RunnerReport.NONE,
            StreamCapture.EMPTY,
            OutputLimitAction.TRUNCATE,
            false,
            "SandboxFailed"),
        Arguments.of(
            Termination.INTERRUPTED,
            null,
            RunnerReport.NONE,
            StreamCapture.EMPTY,
            OutputLimitAction.TRUNCATE,
            false,
            "Interrupted"));
  }

  @ParameterizedTest
  @MethodSource("outcomes")
  void verdictFollowsTheExitCodeAndTheBackendsEvidence(
      Termination termination,
      Integer exit,
      RunnerReport report,
      StreamCapture stdout,
      OutputLimitAction action,
      boolean succeeded,
      String reason) {
    ExecutionOutcome outcome =
        new ExecutionOutcome(
            termination,
            exit,
            stdout,
            StreamCapture.EMPTY,
            report,
            "s",
            T0,
            T0.plusMillis(10),
            null);
    CodeExecutionStatusCalculator.Verdict verdict =
        CodeExecutionStatusCalculator.verdict(outcome, ExecutionMode.FUNCTION, "main", action, 5);
    assertThat(verdict.succeeded()).isEqualTo(succeeded);
    assertThat(verdict.reason().value()).isEqualTo(reason);
    assertThat(verdict.message()).isNotBlank().endsWith(".");
  }

  @Test
  void stderrAloneNeverFailsARun() {
    ExecutionOutcome outcome =
        new ExecutionOutcome(
            Termination.EXITED,
            0,
            StreamCapture.EMPTY,
            new StreamCapture("DeprecationWarning: old API\n", 28, false),
            ok(),
            "s",
            T0,
            T0,
            null);
    assertThat(
            CodeExecutionStatusCalculator.verdict(
                    outcome, ExecutionMode.FUNCTION, "main", OutputLimitAction.TRUNCATE, 5)
                .succeeded())
        .isTrue();
  }

  @Test
  void finishedStatusCarriesOutputResultTimingsAndComputedPhase() {
    CodeExecution cx = TestResources.anExecution("ns", "x", "p");
    cx.getMetadata().setGeneration(1L);
    cx.setStatus(CodeExecutionStatusCalculator.started(cx, "p", ProviderType.DOCKER, "c1", T0));
    ExecutionOutcome outcome =
        new ExecutionOutcome(
            Termination.EXITED,
            0,
            new StreamCapture("hi\n", 3, false),
            StreamCapture.EMPTY,
            new RunnerReport("ok", null, null, IntNode.valueOf(42), null),
            "c1",
            T0,
            T0.plusMillis(1530),
            null);
    CodeExecutionStatus status =
        CodeExecutionStatusCalculator.finished(
            cx, outcome, OutputLimitAction.TRUNCATE, Duration.ofSeconds(10), T0.plusSeconds(2));
    assertThat(status.getPhase()).isEqualTo(Phase.SUCCEEDED);
    assertThat(status.getResult().asInt()).isEqualTo(42);
    assertThat(status.getStdout()).isEqualTo("hi\n");
    assertThat(status.getDurationMillis()).isEqualTo(1530);
    assertThat(status.getDuration()).isEqualTo("1.53s");
    assertThat(status.getObservedGeneration()).isEqualTo(1L);
    assertThat(status.getConditions())
        .extracting("type")
        .containsExactlyInAnyOrder("Accepted", "Started", "Succeeded");
    assertThat(status.getConditions())
        .allSatisfy(c -> assertThat(c.getObservedGeneration()).isEqualTo(1L));
    // The input object is not modified (it comes from the informer cache).
    assertThat(cx.getStatus().getPhase()).isEqualTo(Phase.RUNNING);
  }

  /**
   * Issue 15: TimedOut names the limit the run was admitted with, not a figure guessed from how
   * long it took.
   */
  @Test
  void aTimedOutRunNamesTheEffectiveLimitOfItsRequest() {
    CodeExecution cx =
        TestResources.anExecution("ns", "x", "p"); // no spec.timeoutSeconds: the provider's default
    ExecutionOutcome outcome =
        ExecutionOutcome.failure(Termination.TIMED_OUT, "s", T0, T0.plusMillis(11_400), null);
    ExecutionRequest request =
        new ExecutionRequest(
            "ns",
            "x",
            "u",
            Language.PYTHON,
            ExecutionMode.FUNCTION,
            "main",
            cx.getSpec().getCode(),
            JsonNodeFactory.instance.objectNode(),
            Duration.ofSeconds(10),
            1024,
            false,
            null,
            OutputLimitAction.FAIL);

    CodeExecutionStatus status =
        CodeExecutionStatusCalculator.finished(cx, outcome, request, T0.plusSeconds(12));

    assertThat(Conditions.reason(status.getConditions(), ConditionTypes.SUCCEEDED))
        .isEqualTo(CodeExecutionReason.TIMED_OUT.value());
    assertThat(status.getMessage())
        .startsWith("Killed after the time limit of 10s (spec.timeoutSeconds)");
  }

  /** The request's outputLimitAction decides whether cut output fails the run. */
  @Test
  void cutOutputFailsTheRunWhenItsRequestSaysFail() {
    CodeExecution cx = TestResources.anExecution("ns", "x", "p");
    ExecutionOutcome outcome =
        new ExecutionOutcome(
            Termination.EXITED,
            0,
            CUT,
            StreamCapture.EMPTY,
            ok(),
            "s",
            T0,
            T0.plusMillis(10),
            null);
    ExecutionRequest failing =
        new ExecutionRequest(
            "ns",
            "x",
            "u",
            Language.PYTHON,
            ExecutionMode.FUNCTION,
            "main",
            cx.getSpec().getCode(),
            JsonNodeFactory.instance.objectNode(),
            Duration.ofSeconds(10),
            1024,
            false,
            null,
            OutputLimitAction.FAIL);

    assertThat(
            Conditions.reason(
                CodeExecutionStatusCalculator.finished(cx, outcome, failing, T0).getConditions(),
                ConditionTypes.SUCCEEDED))
        .isEqualTo(CodeExecutionReason.OUTPUT_LIMIT_EXCEEDED.value());
  }

  /**
   * Issue 18: client-side kubectl apply drops null arguments; the message must not blame the code
   * alone.
   */
  @Test
  void aMissingParameterWithArgumentsInTheManifestMentionsKubectlDroppingNulls() {
    String missing = "TypeError: main() missing 1 required positional argument: 'nothing'";
    CodeExecution cx = TestResources.anExecution("ns", "x", "p");
    cx.getSpec().setArguments(java.util.Map.of("a", true));
    ExecutionOutcome outcome =
        new ExecutionOutcome(
            Termination.EXITED,
            1,
            StreamCapture.EMPTY,
            StreamCapture.EMPTY,
            error("Exception", missing),
            "c",
            T0,
            T0,
            null);

    String message =
        CodeExecutionStatusCalculator.finished(
                cx, outcome, OutputLimitAction.TRUNCATE, Duration.ofSeconds(10), T0)
            .getMessage();

    assertThat(message)
        .startsWith("The code raised " + missing)
        .contains("client-side kubectl apply drops null values")
        .contains("spec.argumentsJSON")
        .contains("kubectl apply --server-side");
    // Another TypeError, or no arguments in the manifest: no hint.
    ExecutionOutcome other =
        new ExecutionOutcome(
            Termination.EXITED,
            1,
            StreamCapture.EMPTY,
            StreamCapture.EMPTY,
            error("Exception", "TypeError: unsupported operand type(s) for +: 'int' and 'str'"),
            "c",
            T0,
            T0,
            null);
    assertThat(
            CodeExecutionStatusCalculator.finished(
                    cx, other, OutputLimitAction.TRUNCATE, Duration.ofSeconds(10), T0)
                .getMessage())
        .doesNotContain("kubectl");
    cx.getSpec().setArguments(null);
    assertThat(
            CodeExecutionStatusCalculator.finished(
                    cx, outcome, OutputLimitAction.TRUNCATE, Duration.ofSeconds(10), T0)
                .getMessage())
        .doesNotContain("kubectl");
    // Applied client-side with only null arguments: kubectl may have removed spec.arguments whole.
    cx.getMetadata()
        .setAnnotations(java.util.Map.of("kubectl.kubernetes.io/last-applied-configuration", "{}"));
    assertThat(
            CodeExecutionStatusCalculator.finished(
                    cx, outcome, OutputLimitAction.TRUNCATE, Duration.ofSeconds(10), T0)
                .getMessage())
        .contains("spec.argumentsJSON");
  }

  @Test
  void aRunWhoseLeftoverProcessesWereStoppedSaysSo() {
    CodeExecution cx = TestResources.anExecution("ns", "x", "p");
    ExecutionOutcome outcome =
        new ExecutionOutcome(
            Termination.EXITED,
            0,
            StreamCapture.EMPTY,
            StreamCapture.EMPTY,
            ok(),
            "c",
            T0,
            T0,
            "Processes the code left running were stopped with the sandbox");
    assertThat(
            CodeExecutionStatusCalculator.finished(
                    cx, outcome, OutputLimitAction.TRUNCATE, Duration.ofSeconds(10), T0)
                .getMessage())
        .isEqualTo(
            "main() returned no value. Processes the code left running were stopped with the sandbox.");
  }

  @Test
  void failedRunsKeepNoResult() {
    CodeExecution cx = TestResources.anExecution("ns", "x", "p");
    ExecutionOutcome outcome =
        new ExecutionOutcome(
            Termination.EXITED,
            2,
            StreamCapture.EMPTY,
            StreamCapture.EMPTY,
            new RunnerReport("ok", null, null, IntNode.valueOf(1), null),
            "c",
            T0,
            T0,
            null);
    assertThat(
            CodeExecutionStatusCalculator.finished(
                    cx, outcome, OutputLimitAction.TRUNCATE, Duration.ofSeconds(10), T0)
                .getResult())
        .isNull();
  }

  @Test
  void lastTransitionTimeChangesOnlyWhenTheStatusFlips() {
    CodeExecution cx = TestResources.anExecution("ns", "x", "p");
    cx.setStatus(
        CodeExecutionStatusCalculator.waiting(
            cx, CodeExecutionReason.PROVIDER_NOT_READY, "p is not Ready.", T0));
    CodeExecutionStatus later =
        CodeExecutionStatusCalculator.queued(cx, "p", ProviderType.DOCKER, T0.plusSeconds(60));
    assertThat(Conditions.reason(later.getConditions(), "Succeeded"))
        .isEqualTo(CodeExecutionReason.WAITING_FOR_SANDBOX.value());
    assertThat(
            Conditions.get(later.getConditions(), "Succeeded")
                .orElseThrow()
                .getLastTransitionTime())
        .as("Unknown before and after: only the reason changed")
        .isEqualTo("2026-01-01T00:00:00Z");
    assertThat(later.getQueuedTime()).isEqualTo("2026-01-01T00:01:00Z");
    cx.setStatus(later);
    assertThat(
            CodeExecutionStatusCalculator.queued(cx, "p", ProviderType.DOCKER, T0.plusSeconds(120))
                .getQueuedTime())
        .as("queued once, at the first time")
        .isEqualTo("2026-01-01T00:01:00Z");
  }

  @Test
  void invalidIsFinalAndSaysHowToFixIt() {
    CodeExecution cx = TestResources.anExecution("ns", "x", "p");
    CodeExecutionStatus status =
        CodeExecutionStatusCalculator.invalid(cx, List.of("spec.language is required"), T0);
    assertThat(status.getPhase()).isEqualTo(Phase.FAILED);
    assertThat(CodeExecutionStatusCalculator.isTerminal(status)).isTrue();
    assertThat(status.getMessage())
        .contains("spec.language is required")
        .contains("create a new CodeExecution");
  }

  @Test
  void aResultWhoseRecordsContradictTheExitCodeIsNeverWrittenToTheStatus() {
    CodeExecution cx = TestResources.anExecution("ns", "x", "p");
    RunnerReport report = new RunnerReport("ok", null, null, IntNode.valueOf(42), null);
    ExecutionOutcome killed =
        new ExecutionOutcome(
            Termination.EXITED,
            137,
            StreamCapture.EMPTY,
            StreamCapture.EMPTY,
            report,
            "s",
            T0,
            T0.plusMillis(10),
            null);
    CodeExecutionStatus status =
        CodeExecutionStatusCalculator.finished(
            cx, killed, OutputLimitAction.TRUNCATE, Duration.ofSeconds(10), T0);
    assertThat(status.getPhase()).isEqualTo(Phase.FAILED);
    assertThat(status.getResult()).isNull();
    assertThat(status.getMessage())
        .contains("cannot be believed")
        .contains("says ok but the process exited with code 137");
  }

  @Test
  void signalsAreNamedWithTheBackendsEvidence() {
    ExecutionOutcome segfault =
        new ExecutionOutcome(
            Termination.EXITED,
            139,
            StreamCapture.EMPTY,
            StreamCapture.EMPTY,
            RunnerReport.NONE,
            "s",
            T0,
            T0,
            null);
    assertThat(
            CodeExecutionStatusCalculator.verdict(
                    segfault, ExecutionMode.FUNCTION, "main", OutputLimitAction.TRUNCATE, 5)
                .message())
        .isEqualTo(
            "The program was killed by signal 11 (SIGSEGV: a segmentation fault, exit code 139). See status.stderr.");
    ExecutionOutcome killed =
        new ExecutionOutcome(
            Termination.EXITED,
            137,
            StreamCapture.EMPTY,
            StreamCapture.EMPTY,
            RunnerReport.NONE,
            "s",
            T0,
            T0,
            "The sandbox's memory cgroup recorded no OOM kill, so it was not the memory limit");
    assertThat(
            CodeExecutionStatusCalculator.verdict(
                    killed, ExecutionMode.FUNCTION, "main", OutputLimitAction.TRUNCATE, 5)
                .message())
        .isEqualTo(
            "The program was killed by signal 9 (SIGKILL, exit code 137). The sandbox's memory cgroup"
                + " recorded no OOM kill, so it was not the memory limit. See status.stderr.");
  }

  @Test
  void exitingWithCodeZeroBeforeMainReturnedSucceedsWithoutAResult() {
    ExecutionOutcome outcome =
        new ExecutionOutcome(
            Termination.EXITED,
            0,
            StreamCapture.EMPTY,
            StreamCapture.EMPTY,
            new RunnerReport("exit", null, null, null, null, 0, null),
            "s",
            T0,
            T0,
            null);
    assertThat(
            CodeExecutionStatusCalculator.verdict(
                    outcome, ExecutionMode.FUNCTION, "main", OutputLimitAction.TRUNCATE, 5)
                .message())
        .isEqualTo("The program exited with code 0 before main() returned; there is no result.");
  }

  @Test
  void humanDurations() {
    assertThat(CodeExecutionStatusCalculator.humanDuration(153)).isEqualTo("153ms");
    assertThat(CodeExecutionStatusCalculator.humanDuration(2410)).isEqualTo("2.41s");
    assertThat(CodeExecutionStatusCalculator.humanDuration(185_000)).isEqualTo("3m05s");
  }

  private static RunnerReport ok() {
    return new RunnerReport("ok", null, null, null, null);
  }

  private static RunnerReport error(String kind, String message) {
    return new RunnerReport("error", kind, message, null, null);
  }

  @Test
  void aFinishedStatusIsNeverRebuiltFromAPrunedCachedCopy() {
    var pruning = ExecutionCachePruning.serialization();
    var plain = new io.fabric8.kubernetes.client.utils.KubernetesSerialization();
    CodeExecution cached =
        pruning.unmarshal(ExecutionCachePruningTest.finishedJson("{}"), CodeExecution.class);
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> CodeExecutionStatusCalculator.copy(cached))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("complete read");
    CodeExecution complete =
        plain.unmarshal(ExecutionCachePruningTest.finishedJson("{}"), CodeExecution.class);
    assertThat(CodeExecutionStatusCalculator.copy(complete).getStdout()).isEqualTo("hello");
    // A running execution's cached copy may be finished from: the final status sets every output
    // field.
    cached.getStatus().getConditions().get(0).setStatus("Unknown");
    assertThat(CodeExecutionStatusCalculator.copy(cached).getStdout()).isNull();
  }
}
