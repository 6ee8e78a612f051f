package dev.sandboxes.operator.execution;

import dev.sandboxes.operator.runner.RunnerReport;
import dev.sandboxes.operator.runner.StreamCapture;
import java.time.Instant;

/**
 * What a backend observed of one execution. Turned into a status by the
 * CodeExecutionStatusCalculator; nothing here is a Kubernetes type.
 *
 * @param detail a sentence for the status message when the backend knows more than the exit code
 *     (why a sandbox failed, what killed it); never contains secrets
 */
public record ExecutionOutcome(
    Termination termination,
    Integer exitCode,
    StreamCapture stdout,
    StreamCapture stderr,
    RunnerReport report,
    String sandboxId,
    Instant startTime,
    Instant completionTime,
    String detail) {

  /** An outcome without output, for failures before or around the run. */
  public static ExecutionOutcome failure(
      Termination termination,
      String sandboxId,
      Instant startTime,
      Instant completionTime,
      String detail) {
    return new ExecutionOutcome(
        termination,
        null,
        StreamCapture.EMPTY,
        StreamCapture.EMPTY,
        RunnerReport.NONE,
        sandboxId,
        startTime,
        completionTime,
        detail);
  }
}
