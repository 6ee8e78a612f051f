package dev.sandboxes.operator.codeexecution;

import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionReason;
import dev.sandboxes.api.v1alpha1.CodeExecutionStatus;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.operator.events.EventRecorder;
import dev.sandboxes.operator.events.EventRecorder.Type;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The events of a CodeExecution's status transitions, as the status recorder stores them: Started,
 * the final reason, and SpecChangeIgnored when an edited execution's outcome is written.
 */
final class CodeExecutionEvents implements CodeExecutionStatusRecorder.Subscriber {

  private static final Logger LOG = LoggerFactory.getLogger(CodeExecutionEvents.class);

  private final EventRecorder events;

  CodeExecutionEvents(EventRecorder events) {
    this.events = events;
  }

  @Override
  public void recorded(CodeExecution cx, CodeExecutionStatus before, CodeExecutionStatus after) {
    boolean wasStarted = CodeExecutionStatusCalculator.isStarted(before);
    boolean wasTerminal = CodeExecutionStatusCalculator.isTerminal(before);
    boolean terminal = CodeExecutionStatusCalculator.isTerminal(after);
    if (!wasStarted && CodeExecutionStatusCalculator.isStarted(after) && !terminal) {
      events.record(cx, Type.Normal, CodeExecutionReason.STARTED, after.getMessage());
    }
    if (terminal && !wasTerminal) {
      CodeExecutionReason reason = finalReason(after);
      boolean succeeded = Conditions.isTrue(after.getConditions(), ConditionTypes.SUCCEEDED);
      if (CodeExecutionStatusCalculator.isStarted(after)) {
        LOG.info(
            "CodeExecution {}/{} finished: {} ({}) in {}",
            cx.getMetadata().getNamespace(),
            cx.getMetadata().getName(),
            after.getPhase(),
            reason,
            after.getDuration());
      }
      events.record(cx, succeeded ? Type.Normal : Type.Warning, reason, after.getMessage());
    }
    if (terminal && generationGrew(before, after)) {
      events.record(
          cx,
          Type.Warning,
          CodeExecutionReason.SPEC_CHANGE_IGNORED,
          wasTerminal
              ? "The spec was changed after the execution finished; the change is ignored. Create a new CodeExecution."
              : "The spec was changed while the execution ran; the change is ignored and the outcome is that of the"
                  + " original spec. Create a new CodeExecution to run the changed spec.");
    }
  }

  /** The final reason of a finished status; SandboxFailed should it carry none known. */
  static CodeExecutionReason finalReason(CodeExecutionStatus finished) {
    return CodeExecutionReason.ofCondition(
            Conditions.reason(finished.getConditions(), ConditionTypes.SUCCEEDED))
        .filter(CodeExecutionReason::onEvents)
        .orElse(CodeExecutionReason.SANDBOX_FAILED);
  }

  /**
   * An edit seen only now: by a run's outcome (it was Started), or on an execution already
   * finished.
   */
  private static boolean generationGrew(CodeExecutionStatus before, CodeExecutionStatus after) {
    return CodeExecutionStatusCalculator.isStarted(before)
            || CodeExecutionStatusCalculator.isTerminal(before)
        ? before.getObservedGeneration() != null
            && after.getObservedGeneration() != null
            && after.getObservedGeneration() > before.getObservedGeneration()
        : false;
  }
}
