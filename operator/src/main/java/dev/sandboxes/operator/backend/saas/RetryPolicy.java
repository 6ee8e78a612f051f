package dev.sandboxes.operator.backend.saas;

import dev.sandboxes.operator.backend.Backoff;
import java.time.Duration;

/**
 * How often an idempotent call is tried and how long to wait between tries: the first backoff,
 * doubling for each further try, or the service's own wait hint when that is longer; never more
 * than maxDelay when one is set.
 *
 * @param attempts tries in all, at least 1
 * @param firstBackoff the wait before the second try
 * @param maxDelay the longest wait between two tries, or null for none: the service's hint is then
 *     honoured however long it is
 */
public record RetryPolicy(int attempts, Duration firstBackoff, Duration maxDelay) {

  public RetryPolicy {
    if (attempts < 1) {
      throw new IllegalArgumentException(
          "a call is tried at least once, not " + attempts + " times");
    }
    if (firstBackoff == null || firstBackoff.isNegative()) {
      throw new IllegalArgumentException(
          "the backoff must be zero or positive, not " + firstBackoff);
    }
    if (maxDelay != null && maxDelay.isNegative()) {
      throw new IllegalArgumentException(
          "the longest wait must be zero or positive, not " + maxDelay);
    }
  }

  /** One try, no retry. */
  public static RetryPolicy once() {
    return new RetryPolicy(1, Duration.ZERO, Duration.ZERO);
  }

  /**
   * The wait before retry number {@code retry} (1 before the second try).
   *
   * @param hint the service's wait hint from the last failure, or null
   */
  public Duration delay(int retry, Duration hint) {
    // Doubling stops growing once it passes any sane wait, so it cannot overflow.
    Duration backoff = firstBackoff;
    for (int i = 1; i < retry && backoff.compareTo(Duration.ofDays(1)) < 0; i++) {
      backoff = backoff.multipliedBy(2);
    }
    return Backoff.honouring(hint, backoff, maxDelay);
  }
}
