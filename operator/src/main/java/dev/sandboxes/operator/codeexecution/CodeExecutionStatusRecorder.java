package dev.sandboxes.operator.codeexecution;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionStatus;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.SandboxReference;
import dev.sandboxes.operator.common.StatusWriter;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one writer of CodeExecution statuses. It decides which changes are worth writing now (a
 * waiting execution's status only when what a reader sees changes, a start or an outcome always),
 * writes each with one PUT conditioned on the resourceVersion the status was computed from, and
 * tells its subscribers (events, metrics) of every status it stored, with the one before.
 *
 * <p>A conflict is never retried with the same status: the object changed, maybe because another
 * operator started or finished the execution, so the caller reads it again and decides again
 * ({@link StaleCopyException}). That keeps the Started write at most once and a final status from
 * overwriting another writer's.
 */
final class CodeExecutionStatusRecorder {

  private static final Logger LOG = LoggerFactory.getLogger(CodeExecutionStatusRecorder.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Attempts at the sandbox id write when the object keeps changing under it. */
  private static final int SANDBOX_ID_ATTEMPTS = 5;

  /** Told, on the writing thread, of each status the recorder stored. */
  @FunctionalInterface
  interface Subscriber {
    /**
     * @param execution the copy the status was written on (its status is {@code before})
     * @param before the status it replaced, or null
     * @param after the status stored
     */
    void recorded(CodeExecution execution, CodeExecutionStatus before, CodeExecutionStatus after);
  }

  private final ExecutionStore store;
  private final List<Subscriber> subscribers = new CopyOnWriteArrayList<>();

  CodeExecutionStatusRecorder(ExecutionStore store) {
    this.store = store;
  }

  void subscribe(Subscriber subscriber) {
    subscribers.add(subscriber);
  }

  /**
   * Records {@code next} as the status of {@code base}, if it is worth writing; the stored copy
   * goes to JOSDK's temporary cache, so the next reconcile sees it. Returns the status now stored.
   *
   * @throws StaleCopyException when the object changed since {@code base} was read
   */
  CodeExecutionStatus record(
      CodeExecution base, Context<CodeExecution> context, CodeExecutionStatus next) {
    CodeExecutionStatus before = base.getStatus();
    if (!worthWriting(before, next)) {
      return before;
    }
    CodeExecution written = store.replaceStatus(base, next);
    if (context != null) {
      StatusWriter.remember(context, base, written);
    }
    subscribers.forEach(s -> s.recorded(base, before, next));
    return next;
  }

  /**
   * Records the sandbox id a backend reported mid-run (from the run's thread); returns once it is
   * stored. Throws when the execution is gone, was never started or was finished by another writer:
   * the backend then sends no code.
   */
  void recordSandboxId(ResourceID id, String executionUid, String sandboxId) {
    CodeExecution key = new CodeExecution();
    key.setMetadata(
        new ObjectMetaBuilder()
            .withNamespace(id.getNamespace().orElseThrow())
            .withName(id.getName())
            .withUid(executionUid)
            .build());
    for (int attempt = 1; attempt <= SANDBOX_ID_ATTEMPTS; attempt++) {
      ExecutionStore.Read read = store.read(key);
      if (!(read instanceof ExecutionStore.Found found)) {
        throw new IllegalStateException("the CodeExecution is gone or cannot be read");
      }
      CodeExecution current = found.execution();
      if (CodeExecutionStatusCalculator.isTerminal(current.getStatus())
          || !CodeExecutionStatusCalculator.isStarted(current.getStatus())) {
        throw new IllegalStateException("another operator finished or reset the CodeExecution");
      }
      try {
        record(current, null, withSandboxId(current, sandboxId));
        return;
      } catch (StaleCopyException e) {
        // changed meanwhile: look again
      }
    }
    throw new IllegalStateException(
        "the CodeExecution kept changing while its sandbox id was recorded");
  }

  /**
   * After a failed reconcile (JOSDK retries it): a pending execution's message says so, written on
   * a complete read; a started or finished execution keeps its status. Best effort: the error that
   * failed the reconcile may fail this write too, and then the retry is all there is.
   */
  void recordRetrying(CodeExecution cx, Context<CodeExecution> context, Exception error) {
    if (!isPending(cx.getStatus())) {
      return;
    }
    try {
      if (store.read(cx) instanceof ExecutionStore.Found found
          && isPending(found.execution().getStatus())) {
        record(
            found.execution(),
            context,
            CodeExecutionStatusCalculator.retrying(found.execution(), error));
      }
    } catch (RuntimeException notWritten) {
      LOG.debug(
          "CodeExecution {}/{}: the error status was not written: {}",
          cx.getMetadata().getNamespace(),
          cx.getMetadata().getName(),
          notWritten.toString());
    }
  }

  private static boolean isPending(CodeExecutionStatus status) {
    return !CodeExecutionStatusCalculator.isStarted(status)
        && !CodeExecutionStatusCalculator.isTerminal(status);
  }

  /**
   * Whether {@code next} is worth a write over {@code current}. A start, an outcome or a sandbox id
   * always is (unless nothing at all changed); a waiting execution's status only when its phase,
   * message, observed generation or the reasons of Accepted and Succeeded change, so that a
   * reconcile that finds it still waiting writes nothing.
   */
  static boolean worthWriting(CodeExecutionStatus current, CodeExecutionStatus next) {
    if (current == null) {
      return true;
    }
    if (isPending(next)) {
      return !Objects.equals(current.getPhase(), next.getPhase())
          || !Objects.equals(current.getMessage(), next.getMessage())
          || !Objects.equals(current.getObservedGeneration(), next.getObservedGeneration())
          || !Objects.equals(
              Conditions.reason(current.getConditions(), ConditionTypes.ACCEPTED),
              Conditions.reason(next.getConditions(), ConditionTypes.ACCEPTED))
          || !Objects.equals(
              Conditions.reason(current.getConditions(), ConditionTypes.SUCCEEDED),
              Conditions.reason(next.getConditions(), ConditionTypes.SUCCEEDED));
    }
    return !JSON.valueToTree(current).equals(JSON.valueToTree(next));
  }

  private static CodeExecutionStatus withSandboxId(CodeExecution cx, String sandboxId) {
    CodeExecutionStatus status = CodeExecutionStatusCalculator.copy(cx);
    SandboxReference sandbox =
        status.getSandbox() == null ? new SandboxReference() : status.getSandbox();
    sandbox.setId(sandboxId);
    status.setSandbox(sandbox);
    return status;
  }
}
