package dev.sandboxes.operator.backend;

import java.time.Duration;

/**
 * A wait that doubles each time it is taken, up to a ceiling, and starts over when the service
 * accepts work again: how a provider backs off while its service throttles, and how a warm pool
 * pauses after failed starts. Not thread-safe; its owner synchronises.
 */
public final class Backoff {

  private final Duration first;
  private final Duration max;
  private Duration current;

  public Backoff(Duration first, Duration max) {
    if (first.isNegative() || max.isNegative()) {
      throw new IllegalArgumentException(
          "backoffs are zero or positive, not " + first + " and " + max);
    }
    this.first = first;
    this.max = max;
    this.current = atMost(first, max);
  }

  /** This wait; the next one is twice as long, at most the ceiling. */
  public Duration next() {
    Duration now = current;
    current = current.compareTo(max) >= 0 ? max : atMost(current.multipliedBy(2), max);
    return now;
  }

  /** The service accepts work again: the next wait is the first one. */
  public void reset() {
    current = atMost(first, max);
  }

  /**
   * The service's hint when it asks for longer than the backoff, else the backoff; at most {@code
   * max} when that is not null.
   */
  public static Duration honouring(Duration hint, Duration backoff, Duration max) {
    Duration wait = hint != null && hint.compareTo(backoff) > 0 ? hint : backoff;
    return max != null ? atMost(wait, max) : wait;
  }

  private static Duration atMost(Duration wait, Duration max) {
    return wait.compareTo(max) > 0 ? max : wait;
  }
}
