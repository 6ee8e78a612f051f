package dev.sandboxes.operator.backend;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * The link between a running execution and the operator: cancellation (the CodeExecution was
 * deleted, the operator is shutting down) and the sandbox id as soon as the backend knows it.
 */
public final class RunControl {

  private final Consumer<String> sandboxAssigned;
  private final List<Runnable> cancelActions = new ArrayList<>();
  private final CompletableFuture<Void> outcomeStored = new CompletableFuture<>();
  private boolean cancelled;
  private volatile String cancelReason;

  /** A control whose caller takes the outcome as execute returns it: stored at once. */
  public RunControl(Consumer<String> sandboxAssigned) {
    this(sandboxAssigned, true);
  }

  private RunControl(Consumer<String> sandboxAssigned, boolean outcomeStoredAtOnce) {
    this.sandboxAssigned = sandboxAssigned;
    if (outcomeStoredAtOnce) {
      outcomeStored.complete(null);
    }
  }

  /**
   * A control whose caller stores the outcome after execute returns and says so with {@link
   * #markOutcomeStored}.
   */
  public static RunControl storedLater(Consumer<String> sandboxAssigned) {
    return new RunControl(sandboxAssigned, false);
  }

  /** A control that records nothing and is never cancelled from outside. */
  public static RunControl detached() {
    return new RunControl(id -> {});
  }

  /**
   * Reports the sandbox id. Backends that create a remote sandbox per run call this before they
   * send code to it; the call returns once the id is recorded, so a restarted operator can clean
   * up.
   */
  public void sandboxAssigned(String sandboxId) {
    sandboxAssigned.accept(sandboxId);
  }

  /** Registers an action to run on cancellation; runs it at once if already cancelled. */
  public void onCancel(Runnable action) {
    boolean runNow;
    synchronized (this) {
      runNow = cancelled;
      if (!runNow) {
        cancelActions.add(action);
      }
    }
    if (runNow) {
      action.run();
    }
  }

  /** Cancels the run because its CodeExecution was deleted. */
  public void cancel() {
    cancel("The CodeExecution was deleted while it ran; the sandbox was destroyed");
  }

  /**
   * Cancels the run: registered actions run once, on the calling thread.
   *
   * @param reason a sentence for the status message, e.g. why the operator gave up on the run
   */
  public void cancel(String reason) {
    List<Runnable> actions;
    synchronized (this) {
      if (cancelled) {
        return;
      }
      cancelled = true;
      cancelReason = reason;
      actions = new ArrayList<>(cancelActions);
      cancelActions.clear();
    }
    actions.forEach(Runnable::run);
  }

  /**
   * Completes once the run's outcome is stored, or will never be (cancelled, given up). A backend
   * may leave the cleanup of a finished run's sandbox until then, bounded by a wait of its own, so
   * that deleting it and starting its replacement do not compete with the final status write.
   */
  public CompletableFuture<Void> outcomeStored() {
    return outcomeStored.copy();
  }

  /** The outcome is stored (or will not be): see {@link #outcomeStored}. */
  public void markOutcomeStored() {
    outcomeStored.complete(null);
  }

  public synchronized boolean isCancelled() {
    return cancelled;
  }

  /** Why the run was cancelled, or null. */
  public String cancelReason() {
    return cancelReason;
  }
}
