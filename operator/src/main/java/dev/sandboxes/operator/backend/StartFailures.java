package dev.sandboxes.operator.backend;

import dev.sandboxes.api.v1alpha1.SandboxProviderReason;
import java.time.Duration;
import java.util.Optional;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;

/**
 * Counts a backend's sandbox start failures in a row. After {@link #THRESHOLD} failures with the
 * same cause the backend is failing: its probe reports Ready=False (SandboxStartFailing) with the
 * error, and the `run` command gives up. The next successful start clears it. Whoever listens is
 * told each time the state flips (not at every failure), so that the provider is probed at once.
 */
public final class StartFailures {

  /** Identical failures in a row that make a backend failing: one is bad luck, three is a cause. */
  public static final int THRESHOLD = 3;

  /**
   * Parts of an error that differ between attempts of the same cause: ids, numbers, names'
   * suffixes.
   */
  private static final Pattern VARYING = Pattern.compile("[0-9a-f]{12,}|[0-9]+|sbx-[A-Za-z0-9.-]+");

  /**
   * First trial start after the flip, for backends that start sandboxes only per execution; doubles
   * up to the maximum.
   */
  static final Duration FIRST_TRIAL = Duration.ofSeconds(10);

  static final Duration MAX_TRIAL_INTERVAL = Duration.ofMinutes(5);

  private final UnaryOperator<String> redact;
  private long nextTrialNanos;
  private Duration trialInterval = FIRST_TRIAL;
  private final Runnable listener;
  private String cause;
  private int inARow;
  private StartFailure failing;

  /** Start failures nobody is told about as they flip. */
  public StartFailures(UnaryOperator<String> redact) {
    this(redact, () -> {});
  }

  /**
   * @param redact removes secret values from an error before it is kept
   * @param listener told (from any thread, outside locks) when the backend starts or stops failing
   */
  public StartFailures(UnaryOperator<String> redact, Runnable listener) {
    this.redact = redact;
    this.listener = listener;
  }

  /** A sandbox failed to start with this error (the engine's own words) and hint (or null). */
  public void failed(String error, String hint) {
    failed(SandboxProviderReason.SANDBOX_START_FAILING, error, hint);
  }

  /**
   * A sandbox failed to start; {@code reason} names the stage (SandboxStartFailing,
   * ImagePullFailed).
   */
  public void failed(SandboxProviderReason reason, String error, String hint) {
    String clean = redact.apply(error == null ? "unknown error" : error.strip());
    boolean flipped;
    synchronized (this) {
      String key = reason + ":" + VARYING.matcher(clean).replaceAll("#");
      inARow = key.equals(cause) ? inARow + 1 : 1;
      cause = key;
      flipped = failing == null && inARow >= THRESHOLD;
      if (flipped) {
        trialInterval = FIRST_TRIAL;
        nextTrialNanos = System.nanoTime() + trialInterval.toNanos();
      }
      if (failing != null || flipped) {
        // Once failing, it stays so until a start succeeds; the message follows the latest error.
        failing = new StartFailure(reason, clean, hint);
      }
    }
    if (flipped) {
      listener.run();
    }
  }

  /** A sandbox started: whatever failed before is over. */
  public void succeeded() {
    boolean recovered;
    synchronized (this) {
      recovered = failing != null;
      failing = null;
      cause = null;
      inARow = 0;
    }
    if (recovered) {
      listener.run();
    }
  }

  /**
   * For backends that create a sandbox per execution (SaaS), whose executions wait while the
   * provider is not Ready: whether the probe should try one start itself now. True at most once per
   * interval, which doubles from 10 s up to 5 minutes while the starts keep failing.
   */
  public synchronized boolean trialDue() {
    if (failing == null || System.nanoTime() < nextTrialNanos) {
      return false;
    }
    Duration doubled = trialInterval.multipliedBy(2);
    trialInterval = doubled.compareTo(MAX_TRIAL_INTERVAL) > 0 ? MAX_TRIAL_INTERVAL : doubled;
    nextTrialNanos = System.nanoTime() + trialInterval.toNanos();
    return true;
  }

  /** The failure the backend is stuck in, if it is. */
  public synchronized Optional<StartFailure> current() {
    return Optional.ofNullable(failing);
  }

  /** Failures of the same cause in a row so far (for progress lines and tests). */
  public synchronized int inARow() {
    return inARow;
  }
}
