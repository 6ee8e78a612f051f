package dev.sandboxes.operator.backend.selfmanaged;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * How many idle pods one runtime's pool aims for: between {@code poolSize} (the minimum) and {@code
 * maxPoolSize}, following demand by Little's law. Pods in the pipeline = arrival rate × pod start
 * time: to hand every arrival a pod without waiting, the pool keeps that many on their way
 * (starting or idle) on top of its standing minimum. Executions that found no idle pod (misses)
 * raise the target by one each, since a saturated pool's claim rate understates demand (it is
 * capped by the refill rate). With no arrival for a window the target is back at the minimum, and
 * the pool deletes what is above it.
 */
final class PoolSizer {

  /** Arrivals are counted over this window; it is also how long a burst keeps the pool grown. */
  static final Duration WINDOW = Duration.ofSeconds(30);

  /** The start time assumed before any pod of this pool became Ready. */
  static final Duration ASSUMED_START = Duration.ofSeconds(5);

  /** Weight of the newest start time in the moving average. */
  private static final double START_WEIGHT = 0.3;

  /** At most this many arrivals are remembered (bounded memory whatever the rate). */
  private static final int MAX_REMEMBERED = 10_000;

  private final int minimum;
  private final int maximum;
  private final Clock clock;
  private final Deque<Instant> arrivals = new ArrayDeque<>();
  private final Deque<Instant> misses = new ArrayDeque<>();
  private double startSeconds = -1;

  PoolSizer(int minimum, int maximum, Clock clock) {
    this.minimum = minimum;
    this.maximum = Math.max(minimum, maximum);
    this.clock = clock;
  }

  /** An execution took a pod. */
  synchronized void claimed() {
    remember(arrivals);
  }

  /** An execution found no idle pod (it waits; each miss also counts as an arrival). */
  synchronized void missed() {
    remember(misses);
  }

  /** A pod of this pool went from its creation request to Ready in this long. */
  synchronized void started(Duration creationToReady) {
    double seconds = Math.max(0, creationToReady.toMillis() / 1000.0);
    startSeconds =
        startSeconds < 0 ? seconds : START_WEIGHT * seconds + (1 - START_WEIGHT) * startSeconds;
  }

  /** Arrivals per second over the window (claims; a miss counts once more while it waits). */
  synchronized double arrivalsPerSecond() {
    trim();
    return arrivals.size() / (double) WINDOW.toSeconds();
  }

  /** The measured pod start time (moving average), or the assumed one before any measurement. */
  synchronized Duration startTime() {
    return startSeconds < 0 ? ASSUMED_START : Duration.ofMillis(Math.round(startSeconds * 1000));
  }

  /**
   * The pool's target now: minimum + ⌈arrival rate × start time⌉ + recent misses, within [minimum,
   * maximum].
   */
  synchronized int target() {
    trim();
    double startSecondsNow = startTime().toMillis() / 1000.0;
    long inPipeline =
        (long) Math.ceil(arrivals.size() / (double) WINDOW.toSeconds() * startSecondsNow - 1e-9);
    long wanted = minimum + inPipeline + misses.size();
    return (int) Math.max(minimum, Math.min(maximum, wanted));
  }

  int minimum() {
    return minimum;
  }

  int maximum() {
    return maximum;
  }

  private void remember(Deque<Instant> events) {
    events.addLast(clock.instant());
    if (events.size() > MAX_REMEMBERED) {
      events.removeFirst();
    }
  }

  private void trim() {
    Instant since = clock.instant().minus(WINDOW);
    for (Deque<Instant> events : java.util.List.of(arrivals, misses)) {
      while (!events.isEmpty() && !events.peekFirst().isAfter(since)) {
        events.removeFirst();
      }
    }
  }
}
