package dev.sandboxes.operator.backend.saas;

import java.net.ConnectException;
import java.net.http.HttpConnectTimeoutException;
import java.nio.channels.UnresolvedAddressException;

/**
 * A call that got no usable answer. Each service's client turns it into its own exception with its
 * own wording; the kind and {@link #notSent} are what its retry rules look at.
 */
public final class NoAnswer extends Exception {

  /** Why there is no answer. */
  public enum Kind {
    /** Nothing complete arrived within the call's wait. */
    TIMED_OUT,
    /**
     * The transport failed: refused, reset, name not resolved, the client's own request timeout.
     */
    FAILED,
    /** The body grew past the call's bound, so it was dropped unread. */
    TOO_LARGE,
    /** The call was cancelled by something other than the run's guard. */
    CANCELLED
  }

  private final Kind kind;

  NoAnswer(Kind kind, Throwable cause) {
    super(
        kind + (cause == null || cause.getMessage() == null ? "" : ": " + cause.getMessage()),
        cause);
    this.kind = kind;
  }

  public Kind kind() {
    return kind;
  }

  /**
   * Whether the request certainly never reached the service: the connection could not even be
   * opened. Only then may a call that is not idempotent be sent again.
   */
  public boolean notSent() {
    Throwable cause = getCause();
    return kind == Kind.FAILED
        && cause != null
        && (cause instanceof ConnectException
            || cause instanceof HttpConnectTimeoutException
            || cause instanceof UnresolvedAddressException
            || cause.getCause() instanceof UnresolvedAddressException);
  }
}
