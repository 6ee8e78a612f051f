package dev.sandboxes.operator.testing;

import static org.awaitility.Awaitility.await;

import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.Phase;
import java.util.function.Supplier;

/**
 * Waits for CodeExecution states that fail at once when the state can no longer come: a finished
 * execution never changes again, and a Running one never goes back to Pending. A test that waits
 * for Succeeded and sees Failed says so with the status message, instead of at the timeout.
 */
public final class ExecutionWaits {

  private ExecutionWaits() {}

  /** Waits until the execution is in the phase, and returns it. */
  public static CodeExecution awaitPhase(Supplier<CodeExecution> read, Phase phase) {
    return await()
        .failFast(
            () -> {
              CodeExecution cx = read.get();
              if (cx != null
                  && cx.getStatus() != null
                  && passed(cx.getStatus().getPhase(), phase)) {
                throw new AssertionError(describe(cx) + " can no longer reach phase " + phase);
              }
            })
        .until(
            read::get,
            cx -> cx != null && cx.getStatus() != null && cx.getStatus().getPhase() == phase);
  }

  /** Waits until the execution's condition of this type has the reason, and returns it. */
  public static CodeExecution awaitReason(
      Supplier<CodeExecution> read, String type, String reason) {
    return await()
        .failFast(
            () -> {
              CodeExecution cx = read.get();
              if (cx != null
                  && cx.getStatus() != null
                  && terminal(cx.getStatus().getPhase())
                  && !reason.equals(Conditions.reason(cx.getStatus().getConditions(), type))) {
                throw new AssertionError(
                    describe(cx) + " finished without reason " + reason + " on " + type);
              }
            })
        .until(
            read::get,
            cx ->
                cx != null
                    && cx.getStatus() != null
                    && reason.equals(Conditions.reason(cx.getStatus().getConditions(), type)));
  }

  /** Whether an execution in phase {@code now} can never be in {@code wanted} again. */
  static boolean passed(Phase now, Phase wanted) {
    if (now == null || now == wanted) {
      return false;
    }
    return terminal(now) || (now == Phase.RUNNING && wanted == Phase.PENDING);
  }

  private static boolean terminal(Phase phase) {
    return phase == Phase.SUCCEEDED || phase == Phase.FAILED;
  }

  private static String describe(CodeExecution cx) {
    return "CodeExecution "
        + cx.getMetadata().getName()
        + " is "
        + cx.getStatus().getPhase()
        + " ("
        + cx.getStatus().getMessage()
        + ")";
  }
}
