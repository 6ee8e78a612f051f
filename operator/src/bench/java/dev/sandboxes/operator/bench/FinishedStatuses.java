package dev.sandboxes.operator.bench;

import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionStatus;
import dev.sandboxes.api.v1alpha1.OutputLimitAction;
import dev.sandboxes.operator.codeexecution.CodeExecutionStatusCalculator;
import dev.sandboxes.operator.execution.ExecutionOutcome;
import dev.sandboxes.operator.execution.Termination;
import dev.sandboxes.operator.runner.RunnerReport;
import dev.sandboxes.operator.runner.StreamCapture;
import java.time.Duration;
import java.time.Instant;

/** Final statuses the benchmarks write directly, as the operator would after a run. */
final class FinishedStatuses {

  private FinishedStatuses() {}

  /** Succeeded with exit code 0 and no output, run in {@code sandbox} from started to finished. */
  static CodeExecutionStatus succeededQuietly(
      CodeExecution cx, String sandbox, Instant started, Instant finished) {
    ExecutionOutcome outcome =
        new ExecutionOutcome(
            Termination.EXITED,
            0,
            StreamCapture.EMPTY,
            StreamCapture.EMPTY,
            RunnerReport.NONE,
            sandbox,
            started,
            finished,
            null);
    return CodeExecutionStatusCalculator.finished(
        cx, outcome, OutputLimitAction.TRUNCATE, Duration.ofSeconds(10), finished);
  }
}
