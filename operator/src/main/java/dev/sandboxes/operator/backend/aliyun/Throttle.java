package dev.sandboxes.operator.backend.aliyun;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The provider-wide backoff after AgentRun answered "throttled" or "quota exceeded". While it
 * lasts the backend hands out no leases, so new executions wait in Pending (WaitingForSandbox);
 * when it ends the capacity listener wakes them. The wait is the service's retry-after hint, or an
 * exponential backoff while throttling goes on.
 */
final class Throttle {

  private final Clock clock;
  private final AgentRunTimings timings;
  private final ScheduledExecutorService scheduler;
  private final Runnable onEnd;
  private Instant until = Instant.EPOCH;
  private Duration lastBackoff;
  private ScheduledFuture<?> wake;

  Throttle(Clock clock, AgentRunTimings timings, ScheduledExecutorService scheduler, Runnable onEnd) {
    this.clock = clock;
    this.timings = timings;
    this.scheduler = scheduler;
    this.onEnd = onEnd;
  }

  /** Whether new executions must wait now. */
  synchronized boolean active() {
    return clock.instant().isBefore(until);
  }

  synchronized Instant until() {
    return until;
  }

  /** Records a throttled answer; returns how long the caller should wait before asking again. */
  synchronized Duration throttled(Duration hint) {
    Duration wait;
    if (hint != null) {
      wait = hint;
    } else {
      wait = lastBackoff == null ? timings.firstThrottleBackoff() : lastBackoff.multipliedBy(2);
      if (wait.compareTo(timings.maxThrottleBackoff()) > 0) {
        wait = timings.maxThrottleBackoff();
      }
      lastBackoff = wait;
    }
    Instant end = clock.instant().plus(wait);
    if (end.isAfter(until)) {
      until = end;
      if (wake != null) {
        wake.cancel(false);
      }
      try {
        wake = scheduler.schedule(onEnd, wait.toMillis() + 1, TimeUnit.MILLISECONDS);
      } catch (java.util.concurrent.RejectedExecutionException e) {
        wake = null; // closing
      }
    }
    return wait;
  }

  /** A sandbox was created: the exponential backoff starts over. */
  synchronized void succeeded() {
    lastBackoff = null;
  }
}
