package dev.sandboxes.operator.backend.e2b;

import java.time.Duration;

/**
 * An E2B control-plane or envd call that failed: an HTTP error status with the service's message,
 * or no answer at all (status 0). The message is the service's own text, already shortened and
 * with any credential removed, so it may go into a status.
 */
final class E2bServiceException extends Exception {

  private final int status;
  private final String errorCode;
  private final Duration retryAfter;

  E2bServiceException(int status, String errorCode, String message, Duration retryAfter) {
    super(message);
    this.status = status;
    this.errorCode = errorCode;
    this.retryAfter = retryAfter;
  }

  /** The call got no HTTP answer (connection refused, timeout, reset). */
  static E2bServiceException unreachable(String message) {
    return new E2bServiceException(0, null, message, null);
  }

  /** HTTP status, or 0 when the service did not answer. */
  int status() {
    return status;
  }

  /** The service's machine-readable code ({@code error_code} of the REST API, or a Connect code). */
  String errorCode() {
    return errorCode;
  }

  /** The Retry-After the service asked for, or null. */
  Duration retryAfter() {
    return retryAfter;
  }

  /** The service refused because of quota or capacity: wait and try again. */
  boolean isQuota() {
    return status == 429 || "sandbox_capacity_unavailable".equals(errorCode);
  }

  /** "HTTP 404: template 'x' not found", or the connection problem. */
  String describe() {
    return status == 0 ? getMessage() : "HTTP " + status + ": " + getMessage();
  }
}
