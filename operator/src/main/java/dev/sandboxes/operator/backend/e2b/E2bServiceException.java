package dev.sandboxes.operator.backend.e2b;

import dev.sandboxes.operator.backend.saas.SaasCallException;
import java.time.Duration;

/**
 * An E2B control-plane or envd call that failed: an HTTP error status with the service's message,
 * or no answer at all (status 0). The message is the service's own text, already shortened and with
 * any credential removed, so it may go into a status. The code is the REST API's {@code error_code}
 * or a Connect code.
 */
final class E2bServiceException extends SaasCallException {

  E2bServiceException(int status, String errorCode, String message, Duration retryAfter) {
    super(message, null, status, errorCode, retryAfter, false);
  }

  /** The call got no HTTP answer (connection refused, timeout, reset). */
  static E2bServiceException unreachable(String message) {
    return new E2bServiceException(0, null, message, null);
  }

  /** The service refused because of quota or capacity: wait and try again. */
  boolean isQuota() {
    return status() == 429 || "sandbox_capacity_unavailable".equals(code());
  }

  /**
   * No answer or a 5xx other than a capacity refusal; capacity is waited out by the {@link
   * CreationGate}, not retried in the call.
   */
  @Override
  public boolean transientFailure() {
    return !isQuota() && (status() == 0 || status() >= 500);
  }

  /** "HTTP 404: template 'x' not found", or the connection problem. */
  String describe() {
    return status() == 0 ? getMessage() : "HTTP " + status() + ": " + getMessage();
  }
}
