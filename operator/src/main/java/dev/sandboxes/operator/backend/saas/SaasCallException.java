package dev.sandboxes.operator.backend.saas;

import java.time.Duration;

/**
 * A failed call to a SaaS service, as each service's client specialises it: the HTTP status (0 when
 * there was no answer), the service's own error code, its wait hint, and whether the request surely
 * never arrived. The service-specific wording and codes stay in the subclasses.
 */
public abstract class SaasCallException extends Exception {

  private final int status;
  private final String code;
  private final Duration retryAfter;
  private final boolean notSent;

  protected SaasCallException(
      String message,
      Throwable cause,
      int status,
      String code,
      Duration retryAfter,
      boolean notSent) {
    super(message, cause);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
    this.notSent = notSent;
  }

  /** HTTP status, or 0 when the service did not answer. */
  public int status() {
    return status;
  }

  /** The service's machine-readable error code, or null. */
  public String code() {
    return code;
  }

  /** How long the service asked the caller to wait before asking again, or null. */
  public Duration retryAfter() {
    return retryAfter;
  }

  /**
   * Whether the request certainly never reached the service (safe to send again, even if not
   * idempotent).
   */
  public boolean notSent() {
    return notSent;
  }

  /**
   * Whether sending the same idempotent call again may succeed (the service failed, or did not
   * answer); each service says which of its answers count.
   */
  public abstract boolean transientFailure();
}
