package dev.sandboxes.operator.backend.pool;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The pause between failed sandbox starts, on a clock the test moves. */
@Tag("unit")
class StartBackoffTest {

  private final AtomicLong now = new AtomicLong(-5_000_000_000L); // nanoTime may be negative
  private final StartBackoff backoff = new StartBackoff(now::get);

  @Test
  void noPauseBeforeAnyFailure() {
    assertThat(backoff.pausing()).isFalse();
    assertThat(backoff.remainingMillis()).isZero();
  }

  @Test
  void thePauseDoublesFromHalfASecondToThirtySeconds() {
    long[] expected = {500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000};
    for (int i = 0; i < expected.length; i++) {
      assertThat(backoff.failed()).isEqualTo(i + 1);
      assertThat(backoff.remainingMillis()).isEqualTo(expected[i]);
      advanceMillis(expected[i] - 1);
      assertThat(backoff.pausing()).isTrue();
      advanceMillis(1);
      assertThat(backoff.pausing()).isFalse();
    }
  }

  @Test
  void aSuccessShortensTheNextPauseButNotTheCurrentOne() {
    backoff.failed();
    backoff.failed();
    backoff.succeeded();
    assertThat(backoff.remainingMillis()).isEqualTo(1_000);
    advanceMillis(1_000);
    backoff.failed();
    assertThat(backoff.remainingMillis()).isEqualTo(500);
  }

  private void advanceMillis(long millis) {
    now.addAndGet(TimeUnit.MILLISECONDS.toNanos(millis));
  }
}
