package dev.sandboxes.operator.backend.e2b;

import dev.sandboxes.operator.backend.Backoff;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides whether new executions may get a lease, so that they wait in Pending instead of failing
 * while the service refuses new sandboxes.
 *
 * <p>After a 429 (or a capacity error) the gate closes for a backoff that doubles up to a maximum
 * (or the service's Retry-After). When it lapses, the gate lets exactly one execution through as a
 * probe and tells the operator (capacity listener) to look at the queue; the next successful
 * creation opens it for everyone. After a 401 it stays closed until a probe accepts the key again.
 * See DESIGN.md.
 */
final class CreationGate {

  private static final Logger LOG = LoggerFactory.getLogger(CreationGate.class);

  /** What a lease request gets. */
  enum Admission {
    /** Gate open: go. */
    GRANTED,
    /** Gate half-open: go, and your creation decides whether it opens. */
    PROBE,
    /** Wait in the queue; the capacity listener says when to ask again. */
    DENIED
  }

  private final Clock clock;
  private final ScheduledExecutorService scheduler;
  private final Duration maxBackoff;
  private final String providerName;
  private final Runnable listener;

  private boolean throttled;
  private Instant blockedUntil = Instant.MIN;
  private final Backoff backoff;
  private Object probe;
  private boolean credentialsRejected;

  /**
   * @param listener told when sandbox creation may be tried again (a backoff ended)
   */
  CreationGate(
      Clock clock,
      ScheduledExecutorService scheduler,
      Duration initialBackoff,
      Duration maxBackoff,
      String providerName,
      Runnable listener) {
    this.listener = listener;
    this.clock = clock;
    this.scheduler = scheduler;
    this.maxBackoff = maxBackoff;
    this.backoff = new Backoff(initialBackoff, maxBackoff);
    this.providerName = providerName;
  }

  /** Whether the holder may create a sandbox now; the holder object identifies a probe. */
  synchronized Admission admit(Object holder) {
    if (credentialsRejected) {
      return Admission.DENIED;
    }
    if (!throttled) {
      return Admission.GRANTED;
    }
    if (clock.instant().isBefore(blockedUntil) || probe != null) {
      return Admission.DENIED;
    }
    probe = holder;
    return Admission.PROBE;
  }

  /** How long a creation that was refused should wait before trying again (zero when open). */
  synchronized Duration remainingBackoff() {
    Duration left = Duration.between(clock.instant(), blockedUntil);
    return left.isNegative() ? Duration.ZERO : left;
  }

  /** A sandbox was created: the service accepts work again. */
  void created() {
    boolean reopened;
    synchronized (this) {
      reopened = throttled;
      throttled = false;
      probe = null;
      backoff.reset();
      blockedUntil = Instant.MIN;
    }
    if (reopened) {
      LOG.info(
          "SandboxProvider {}: the E2B service creates sandboxes again; waiting executions proceed",
          providerName);
      listener.run();
    }
  }

  /** The service refused a creation for quota or capacity. */
  void refused(Object holder, Duration retryAfter) {
    Duration delay;
    synchronized (this) {
      delay = Backoff.honouring(retryAfter, backoff.next(), maxBackoff);
      Instant until = clock.instant().plus(delay);
      if (until.isAfter(blockedUntil)) {
        blockedUntil = until;
      }
      if (!throttled) {
        LOG.warn(
            "SandboxProvider {}: the E2B service refuses new sandboxes (quota); new executions wait in Pending",
            providerName);
      }
      throttled = true;
      if (probe == holder) {
        probe = null;
      }
    }
    try {
      // Read the listener when the timer fires: it may be set after this refusal.
      scheduler.schedule(() -> listener.run(), delay.toMillis() + 1, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException closed) {
      // the backend was closed; nobody waits on it any more
    }
  }

  /**
   * A holder ended without a creation verdict (lease released, other failure): free the probe slot.
   */
  void abandoned(Object holder) {
    boolean freed;
    synchronized (this) {
      freed = probe == holder && holder != null;
      if (freed) {
        probe = null;
      }
    }
    if (freed) {
      listener.run();
    }
  }

  /** The service rejected the API key: nobody gets a lease until a probe accepts it. */
  synchronized void credentialsRejected() {
    credentialsRejected = true;
  }

  /** A probe was authenticated. */
  void credentialsAccepted() {
    boolean reopened;
    synchronized (this) {
      reopened = credentialsRejected;
      credentialsRejected = false;
    }
    if (reopened) {
      listener.run();
    }
  }

  synchronized boolean isOpen() {
    return !credentialsRejected && !throttled;
  }
}
