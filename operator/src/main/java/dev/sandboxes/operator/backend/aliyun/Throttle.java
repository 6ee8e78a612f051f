package dev.sandboxes.operator.backend.aliyun;

import dev.sandboxes.operator.backend.Backoff;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The provider-wide backoff after AgentRun answered "throttled" or "quota exceeded". While it lasts
 * the backend hands out no leases, so new executions wait in Pending (WaitingForSandbox); when it
 * ends the capacity listener wakes them. The wait is the service's retry-after hint, or an
 * exponential backoff while throttling goes on.
 */
final class Throttle {

  private final Clock clock;
  private final Backoff backoff;
  private final ScheduledExecutorService scheduler;
  private final Runnable onEnd;
  private Instant until = Instant.EPOCH;
  private ScheduledFuture<?> wake;

  Throttle(
      Clock clock, AgentRunTimings timings, ScheduledExecutorService scheduler, Runnable onEnd) {
    this.clock = clock;
    this.backoff = new Backoff(timings.firstThrottleBackoff(), timings.maxThrottleBackoff());
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
    // The service's hint stands as given, and leaves the backoff where it was.
    Duration wait = hint != null ? hint : backoff.next();
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
    backoff.reset();
  }
}
