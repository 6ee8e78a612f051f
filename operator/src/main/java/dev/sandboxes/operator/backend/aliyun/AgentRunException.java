package dev.sandboxes.operator.backend.aliyun;

import dev.sandboxes.operator.backend.saas.SaasCallException;
import java.time.Duration;
import java.util.Locale;

/**
 * A failed AgentRun call, classified for the decisions the backend takes: retry, back off, report
 * the credentials, or fail the execution. The message names the operation, the HTTP status, the
 * service's code and message and its request id (for Aliyun support); never a credential.
 */
final class AgentRunException extends SaasCallException {

  /** What kind of failure this is, as far as the backend's decisions go. */
  enum Kind {
    /** The signature, AccessKey or permissions were refused. */
    CREDENTIALS,
    /** Throttled or over quota: wait and ask again. */
    THROTTLED,
    /** The template or sandbox does not exist (any more). */
    NOT_FOUND,
    /** It exists already. */
    CONFLICT,
    /** Any other 4xx: the request was wrong; retrying will not help. */
    CLIENT,
    /** 5xx: the service failed; a retry may help. */
    SERVER,
    /** No answer: connection refused or reset, or no response within the call timeout. */
    CONNECTION,
    /** An answer the backend cannot read. */
    PROTOCOL
  }

  private final Kind kind;
  private final String operation;
  private final String serviceMessage;
  private final String requestId;

  AgentRunException(
      Kind kind,
      String operation,
      int status,
      String code,
      String serviceMessage,
      String requestId,
      Duration retryAfter,
      boolean notSent,
      Throwable cause) {
    super(
        describe(operation, status, code, serviceMessage, requestId),
        cause,
        status,
        code,
        retryAfter,
        notSent);
    this.kind = kind;
    this.operation = operation;
    this.serviceMessage = serviceMessage;
    this.requestId = requestId;
  }

  /**
   * No answer at all; notSent when the connection could not even be opened (the request surely did
   * not run).
   */
  static AgentRunException connection(
      String operation, String why, boolean notSent, Throwable cause) {
    return new AgentRunException(
        Kind.CONNECTION, operation, 0, null, why, null, null, notSent, cause);
  }

  static AgentRunException protocol(String operation, int status, String why, String requestId) {
    return new AgentRunException(
        Kind.PROTOCOL, operation, status, null, why, requestId, null, false, null);
  }

  Kind kind() {
    return kind;
  }

  String operation() {
    return operation;
  }

  String requestId() {
    return requestId;
  }

  /** 5xx or no answer; a throttled answer is waited out by the caller, not retried in the call. */
  @Override
  public boolean transientFailure() {
    return kind == Kind.SERVER || kind == Kind.CONNECTION;
  }

  /** The service's own message, lower case, for "not found" / "already exists" checks. */
  String serviceMessageLower() {
    return serviceMessage == null ? "" : serviceMessage.toLowerCase(Locale.ROOT);
  }

  private static String describe(
      String operation, int status, String code, String message, String requestId) {
    StringBuilder text = new StringBuilder("AgentRun ").append(operation);
    if (status > 0) {
      text.append(" answered HTTP ").append(status);
      if (code != null && !code.isBlank()) {
        text.append(' ').append(code);
      }
      if (message != null && !message.isBlank()) {
        text.append(": ").append(message);
      }
    } else {
      text.append(" got no answer")
          .append(message == null || message.isBlank() ? "" : ": " + message);
    }
    if (requestId != null && !requestId.isBlank()) {
      text.append(" (request id ").append(requestId).append(')');
    }
    return text.toString();
  }
}
