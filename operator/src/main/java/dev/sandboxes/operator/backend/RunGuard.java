package dev.sandboxes.operator.backend;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;

/**
 * How one run ends from the operator's side, decided once: on its own ({@link Stop#ENDED}), at its
 * deadline or cancelled; whichever comes first stands. Every backend's run keeps one. A stop
 * completes {@link #signal}, cancels the calls the run is blocked in ({@link #watch}) and runs the
 * {@link #onStop} actions, so every wait and call of the run ends at once.
 */
public final class RunGuard {

  /** Where the run stands. */
  public enum Stop {
    /** Still running. */
    NONE,
    /** It ended (or broke) on its own before any stop: its outcome stands. */
    ENDED,
    /** Its deadline passed first. */
    DEADLINE,
    /** It was cancelled first (CodeExecution deleted, operator shutting down). */
    CANCELLED
  }

  /** Thrown out of a wait or a call that a stop ended. */
  public static final class StoppedException extends Exception {
    private final Stop stop;

    public StoppedException(Stop stop) {
      super(
          stop == Stop.DEADLINE ? "the time limit passed" : "the execution was cancelled",
          null,
          false,
          false);
      this.stop = stop;
    }

    /** DEADLINE or CANCELLED. */
    public Stop stop() {
      return stop;
    }
  }

  private final AtomicReference<Stop> state = new AtomicReference<>(Stop.NONE);
  private final CompletableFuture<Stop> signal = new CompletableFuture<>();
  private final Set<Future<?>> calls = ConcurrentHashMap.newKeySet();
  private final List<Runnable> onStop = new ArrayList<>();

  /** A guard nothing stops, for calls outside a run (probes, deletions, sweeps). */
  public static RunGuard never() {
    return new RunGuard();
  }

  /**
   * Stops the run for this reason (DEADLINE or CANCELLED) unless it already stopped or ended.
   * Returns whether this call stopped it; only then are the watched calls cancelled and the actions
   * run, on the calling thread.
   */
  public boolean stop(Stop reason) {
    if (reason != Stop.DEADLINE && reason != Stop.CANCELLED) {
      throw new IllegalArgumentException(
          "a run is stopped by its deadline or a cancellation, not " + reason);
    }
    if (!state.compareAndSet(Stop.NONE, reason)) {
      return false;
    }
    signal.complete(reason);
    calls.forEach(call -> call.cancel(true));
    List<Runnable> actions;
    synchronized (onStop) {
      actions = List.copyOf(onStop);
    }
    actions.forEach(Runnable::run);
    return true;
  }

  /** The run ended on its own; returns false when a stop came first (its verdict stands). */
  public boolean end() {
    return state.compareAndSet(Stop.NONE, Stop.ENDED);
  }

  public Stop state() {
    return state.get();
  }

  /** Whether the deadline or a cancellation stopped the run. */
  public boolean stopped() {
    Stop now = state.get();
    return now == Stop.DEADLINE || now == Stop.CANCELLED;
  }

  /**
   * Completes with DEADLINE or CANCELLED when the run is stopped; never when it ends on its own.
   */
  public CompletableFuture<Stop> signal() {
    return signal;
  }

  /**
   * Stops the run at DEADLINE after the delay, unless something came first. Cancel the result when
   * done.
   */
  public ScheduledFuture<?> deadlineAfter(Duration delay, ScheduledExecutorService scheduler) {
    return scheduler.schedule(() -> stop(Stop.DEADLINE), delay.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Runs the action when the run is stopped (at once if it already was). */
  public void onStop(Runnable action) {
    synchronized (onStop) {
      if (!stopped()) {
        onStop.add(action);
        return;
      }
    }
    action.run();
  }

  /** The call is in flight; it is cancelled if the run stops, now or later. */
  public void watch(Future<?> call) {
    calls.add(call);
    if (stopped()) {
      call.cancel(true);
    }
  }

  /** The call is over. */
  public void unwatch(Future<?> call) {
    calls.remove(call);
  }

  /** Throws if the run was stopped. */
  public void check() throws StoppedException {
    if (signal.isDone()) {
      throw new StoppedException(signal.join());
    }
  }

  /** Waits at most {@code wait} for a stop; whether one came. */
  public boolean awaitStop(Duration wait) throws InterruptedException {
    try {
      signal.get(Math.max(0, wait.toMillis()), TimeUnit.MILLISECONDS);
      return true;
    } catch (TimeoutException e) {
      return false;
    } catch (ExecutionException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Sleeps, or throws as soon as the run is stopped (an interrupt counts as a cancellation). */
  public void sleep(Duration duration) throws StoppedException {
    try {
      if (awaitStop(duration)) {
        throw new StoppedException(signal.join());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new StoppedException(Stop.CANCELLED);
    }
  }
}
