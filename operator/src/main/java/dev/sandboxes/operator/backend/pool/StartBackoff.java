package dev.sandboxes.operator.backend.pool;

import dev.sandboxes.operator.backend.Backoff;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * The pause a warm pool keeps between failed sandbox starts: 0.5 s after the first failure in a
 * row, doubling up to 30 s, so that a broken image or engine is not hammered and still recovers by
 * itself once fixed. Thread-safe.
 */
public final class StartBackoff {

  static final long FIRST_PAUSE_MILLIS = 500;
  static final long MAX_PAUSE_MILLIS = 30_000;

  private final LongSupplier nanoTime;
  private final Backoff pauses =
      new Backoff(Duration.ofMillis(FIRST_PAUSE_MILLIS), Duration.ofMillis(MAX_PAUSE_MILLIS));
  private int failuresInARow;
  private boolean paused;
  private long pauseEndsNanos;

  /** A backoff on the JVM's monotonic clock. */
  public StartBackoff() {
    this(System::nanoTime);
  }

  /**
   * @param nanoTime a monotonic clock in nanoseconds (tests pass their own)
   */
  public StartBackoff(LongSupplier nanoTime) {
    this.nanoTime = nanoTime;
  }

  /** A start failed: the pause restarts now, longer; returns the failures in a row. */
  public synchronized int failed() {
    failuresInARow++;
    pauseEndsNanos = nanoTime.getAsLong() + pauses.next().toNanos();
    paused = true;
    return failuresInARow;
  }

  /**
   * A start succeeded: the next failure pauses briefly again. A pause under way runs out as planned
   * (starts already running when it began may still fail for the same cause).
   */
  public synchronized void succeeded() {
    failuresInARow = 0;
    pauses.reset();
  }

  /** Whether starts must wait now. */
  public synchronized boolean pausing() {
    return paused && nanoTime.getAsLong() - pauseEndsNanos < 0;
  }

  /** How long starts must still wait, in milliseconds (0 when they need not). */
  public synchronized long remainingMillis() {
    return pausing() ? TimeUnit.NANOSECONDS.toMillis(pauseEndsNanos - nanoTime.getAsLong()) : 0;
  }
}
