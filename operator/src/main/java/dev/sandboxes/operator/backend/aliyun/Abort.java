package dev.sandboxes.operator.backend.aliyun;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Why one execution stopped waiting: its deadline passed or its CodeExecution was deleted. Every
 * wait and every HTTP call of the execution watches it, so either ends them at once.
 */
final class Abort {

  /** The reason an execution was aborted. */
  enum Reason {
    DEADLINE,
    CANCELLED
  }

  /** Thrown out of a wait or a call that the abort ended. */
  static final class AbortedException extends Exception {
    private final Reason reason;

    AbortedException(Reason reason) {
      super(reason == Reason.DEADLINE ? "the time limit passed" : "the execution was cancelled", null, false, false);
      this.reason = reason;
    }

    Reason reason() {
      return reason;
    }
  }

  private final CompletableFuture<Reason> signal = new CompletableFuture<>();

  /** Aborts for this reason; the first reason wins. */
  void fire(Reason reason) {
    signal.complete(reason);
  }

  /** Fires DEADLINE after the delay, unless something fired first. Cancel the result when done. */
  ScheduledFuture<?> deadlineAfter(Duration delay, ScheduledExecutorService scheduler) {
    return scheduler.schedule(() -> fire(Reason.DEADLINE), delay.toMillis(), TimeUnit.MILLISECONDS);
  }

  boolean fired() {
    return signal.isDone();
  }

  /** Completes when the abort fires. */
  CompletableFuture<Reason> signal() {
    return signal;
  }

  /** Throws if the abort already fired. */
  void check() throws AbortedException {
    if (signal.isDone()) {
      throw new AbortedException(signal.join());
    }
  }

  /** Sleeps, or throws as soon as the abort fires. */
  void sleep(Duration duration) throws AbortedException {
    try {
      Reason reason = signal.get(Math.max(0, duration.toMillis()), TimeUnit.MILLISECONDS);
      throw new AbortedException(reason);
    } catch (TimeoutException e) {
      // slept the whole time
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AbortedException(Reason.CANCELLED);
    } catch (ExecutionException e) {
      throw new IllegalStateException(e);
    }
  }

  /** An abort that never fires, for calls outside an execution (probe, deletion, sweep). */
  static Abort never() {
    return new Abort();
  }
}
