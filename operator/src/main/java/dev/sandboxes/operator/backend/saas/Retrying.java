package dev.sandboxes.operator.backend.saas;

import dev.sandboxes.operator.backend.RunGuard;
import java.util.function.Predicate;

/**
 * Tries a call again after the failures its client says may be retried, waiting as the {@link
 * RetryPolicy} says; a stop of the run's guard ends the waits at once. Which failures may be
 * retried stays the client's decision: only idempotent calls, or calls that surely never arrived.
 */
public final class Retrying {

  /** One try of the call. */
  @FunctionalInterface
  public interface Attempt<T, E extends SaasCallException> {
    T run() throws E, RunGuard.StoppedException;
  }

  private Retrying() {}

  /**
   * Runs the attempt until it succeeds, fails in a way {@code retryable} refuses, or the policy's
   * tries are used up; then throws the last failure.
   */
  @SuppressWarnings("unchecked") // the attempt throws only E among the checked SaasCallExceptions
  public static <T, E extends SaasCallException> T call(
      RetryPolicy policy, Predicate<? super E> retryable, RunGuard guard, Attempt<T, E> attempt)
      throws E, RunGuard.StoppedException {
    E last = null;
    for (int tried = 0; tried < policy.attempts(); tried++) {
      if (tried > 0) {
        guard.sleep(policy.delay(tried, last.retryAfter()));
      }
      try {
        return attempt.run();
      } catch (SaasCallException failure) {
        E e = (E) failure;
        if (!retryable.test(e)) {
          throw e;
        }
        last = e;
      }
    }
    throw last;
  }
}
