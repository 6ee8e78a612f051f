package dev.sandboxes.operator.codeexecution;

import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionReason;
import dev.sandboxes.api.v1alpha1.CodeExecutionStatus;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.operator.metrics.OperatorMetrics;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;

/**
 * The meters of a CodeExecution's status transitions, as the status recorder stores them: the wait
 * until Started, and the outcome (with the run's duration) of a final status. Executions that never
 * started count without a provider type or duration; SandboxFailed after a start is a backend
 * error.
 */
final class CodeExecutionMetrics implements CodeExecutionStatusRecorder.Subscriber {

  private final OperatorMetrics metrics;
  private final Clock clock;

  CodeExecutionMetrics(OperatorMetrics metrics, Clock clock) {
    this.metrics = metrics;
    this.clock = clock;
  }

  @Override
  public void recorded(CodeExecution cx, CodeExecutionStatus before, CodeExecutionStatus after) {
    Language language = cx.getSpec() == null ? null : cx.getSpec().getLanguage();
    boolean started = CodeExecutionStatusCalculator.isStarted(after);
    ProviderType type = started && after.getSandbox() != null ? after.getSandbox().getType() : null;
    if (!CodeExecutionStatusCalculator.isStarted(before)
        && started
        && !CodeExecutionStatusCalculator.isTerminal(after)) {
      Instant now = clock.instant();
      metrics.executionStarted(type, language, Duration.between(created(cx, now), now));
    }
    if (CodeExecutionStatusCalculator.isTerminal(after)
        && !CodeExecutionStatusCalculator.isTerminal(before)) {
      CodeExecutionReason outcome = CodeExecutionEvents.finalReason(after);
      if (OperatorMetrics.OUTCOMES.contains(outcome)) {
        Duration run =
            started && after.getDurationMillis() != null
                ? Duration.ofMillis(after.getDurationMillis())
                : null;
        metrics.executionFinished(type, language, outcome, run);
      }
      if (started && outcome == CodeExecutionReason.SANDBOX_FAILED) {
        metrics.backendError(type, outcome);
      }
    }
  }

  private static Instant created(CodeExecution cx, Instant fallback) {
    try {
      String created = cx.getMetadata().getCreationTimestamp();
      return created == null ? fallback : Instant.parse(created);
    } catch (RuntimeException e) {
      return fallback;
    }
  }
}
