package dev.sandboxes.operator.backend.aliyun;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.NullNode;
import dev.sandboxes.operator.backend.RunGuard;
import dev.sandboxes.operator.backend.saas.NoAnswer;
import dev.sandboxes.operator.backend.saas.RetryAfter;
import dev.sandboxes.operator.backend.saas.SaasHttp;
import dev.sandboxes.operator.backend.saas.SaasReply;
import dev.sandboxes.operator.provider.ServiceCallListener;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * What both AgentRun planes add to the shared {@link SaasHttp} exchange: request ids from headers
 * or body, Aliyun's wait hint, and the classification of failures into {@link AgentRunException}.
 * Signing is the callers' business.
 */
final class AgentRunHttp {

  static final ObjectMapper JSON = new ObjectMapper();
  private static final List<String> REQUEST_ID_HEADERS =
      List.of("x-acs-request-id", "x-agentrun-request-id", "x-request-id", "x-fc-request-id");
  private static final Pattern CREDENTIAL_CODES =
      Pattern.compile(
          "^(SignatureDoesNotMatch|IncompleteSignature|InvalidAccessKeyId.*|InvalidSecurityToken.*"
              + "|MissingSecurityToken|Forbidden.*|NoPermission.*|Unauthorized|InvalidAuthorization.*|AccessDenied.*)$",
          Pattern.CASE_INSENSITIVE);
  private static final int MAX_MESSAGE = 300;

  /** One answer: status, headers and the whole (bounded) body. */
  record Reply(int status, HttpHeaders headers, byte[] body) {

    /** The service's request id, from the response headers or the body's requestId. */
    String requestId() {
      for (String name : REQUEST_ID_HEADERS) {
        Optional<String> value = headers.firstValue(name);
        if (value.isPresent() && !value.get().isBlank()) {
          return value.get().strip();
        }
      }
      JsonNode json = jsonOrNull();
      if (json != null) {
        String id = text(json, "requestId", "RequestId");
        if (id != null) {
          return id;
        }
      }
      return null;
    }

    /** The body as JSON, or null when it is not JSON. */
    JsonNode jsonOrNull() {
      if (body.length == 0) {
        return null;
      }
      try {
        return JSON.readTree(body);
      } catch (IOException e) {
        return null;
      }
    }

    boolean ok() {
      return status >= 200 && status < 300;
    }
  }

  private final SaasHttp http;
  private final long maxResponseBytes;

  /**
   * @param calls where each call's outcome is reported (the operator's metrics)
   */
  AgentRunHttp(Duration connectTimeout, long maxResponseBytes, ServiceCallListener calls) {
    this.http =
        new SaasHttp(
            SaasHttp.client(HttpClient.Version.HTTP_1_1, connectTimeout),
            calls,
            answer -> outcome(new Reply(answer.status(), answer.headers(), answer.body())));
    this.maxResponseBytes = maxResponseBytes;
  }

  /**
   * Sends a request and waits for the whole answer, at most the timeout, or until the abort fires.
   *
   * @throws AgentRunException CONNECTION when there is no complete answer in time
   */
  Reply exchange(String operation, HttpRequest request, Duration timeout, RunGuard abort)
      throws AgentRunException, RunGuard.StoppedException {
    return exchange(operation, request, timeout, abort, maxResponseBytes);
  }

  /**
   * As {@link #exchange(String, HttpRequest, Duration, RunGuard)}, with this call's own bound on
   * the body.
   */
  Reply exchange(
      String operation, HttpRequest request, Duration timeout, RunGuard abort, long maxBytes)
      throws AgentRunException, RunGuard.StoppedException {
    try {
      SaasReply answer = http.exchange(request, timeout, abort, maxBytes);
      return new Reply(answer.status(), answer.headers(), answer.body());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new RunGuard.StoppedException(RunGuard.Stop.CANCELLED);
    } catch (NoAnswer e) {
      throw switch (e.kind()) {
        case TIMED_OUT ->
            AgentRunException.connection(
                operation,
                "no complete response within " + timeout.toSeconds() + "s",
                false,
                e.getCause());
        case TOO_LARGE ->
            AgentRunException.protocol(
                operation, 0, "the response is larger than " + maxBytes + " bytes", null);
        case CANCELLED ->
            AgentRunException.connection(operation, "the call was cancelled", false, e.getCause());
        case FAILED ->
            AgentRunException.connection(
                operation, why(e.getCause(), timeout), e.notSent(), e.getCause());
      };
    }
  }

  private static String why(Throwable cause, Duration timeout) {
    return cause instanceof HttpTimeoutException
        ? "no response within " + timeout.toSeconds() + "s"
        : cause.getClass().getSimpleName()
            + (cause.getMessage() == null ? "" : " " + cause.getMessage());
  }

  /**
   * How a call ended, for the metrics: a 2xx is Ok without reading the body (it may be large);
   * error answers are classified as {@link #failure} does, so "Throttling.*" codes count as
   * throttled and "does not exist" answers as not found.
   */
  private static ServiceCallListener.Outcome outcome(Reply reply) {
    if (reply.ok()) {
      return ServiceCallListener.Outcome.OK;
    }
    AgentRunException.Kind kind = failure("call", reply).map(AgentRunException::kind).orElse(null);
    if (kind == AgentRunException.Kind.THROTTLED) {
      return ServiceCallListener.Outcome.THROTTLED;
    }
    if (kind == AgentRunException.Kind.NOT_FOUND) {
      return ServiceCallListener.Outcome.NOT_FOUND;
    }
    // 1xx/3xx (redirects are not followed) are answers the backend cannot use: the service's fault.
    return reply.status() >= 400 && reply.status() < 500
        ? ServiceCallListener.Outcome.CLIENT_ERROR
        : ServiceCallListener.Outcome.SERVER_ERROR;
  }

  /**
   * The failure a reply stands for, or empty when it is a success. Reads either casing of the error
   * fields; an HTTP 200 whose code is not SUCCESS is a failure too.
   */
  static Optional<AgentRunException> failure(String operation, Reply reply) {
    JsonNode json = reply.jsonOrNull();
    String code = json == null ? null : text(json, "code", "Code");
    String message = json == null ? null : text(json, "message", "Message");
    if (reply.ok() && (code == null || code.equalsIgnoreCase("SUCCESS"))) {
      return Optional.empty();
    }
    if (json == null && reply.body().length > 0) {
      message = snippet(new String(reply.body(), java.nio.charset.StandardCharsets.UTF_8));
    }
    message = message == null ? null : snippet(message);
    int status = reply.status();
    String lower = message == null ? "" : message.toLowerCase(Locale.ROOT);
    Duration retryAfter = retryAfter(reply.headers());
    AgentRunException.Kind kind;
    if (status == 401
        || status == 403
        || (code != null && CREDENTIAL_CODES.matcher(code).matches())) {
      kind = AgentRunException.Kind.CREDENTIALS;
    } else if (status == 429
        || (status >= 400 && status < 500 && retryAfter != null)
        || (code != null && code.toLowerCase(Locale.ROOT).startsWith("throttling"))) {
      kind = AgentRunException.Kind.THROTTLED;
    } else if (status == 404
        || status < 500
            && (lower.contains("not found")
                || lower.contains("does not exist")
                || lower.contains("not exist"))) {
      kind = AgentRunException.Kind.NOT_FOUND;
    } else if (status == 409 || status < 500 && lower.contains("already exist")) {
      kind = AgentRunException.Kind.CONFLICT;
    } else if (status >= 500) {
      kind = AgentRunException.Kind.SERVER;
    } else if (status >= 400) {
      kind = AgentRunException.Kind.CLIENT;
    } else {
      kind = AgentRunException.Kind.PROTOCOL; // 2xx with a failure code, or 1xx/3xx
    }
    return Optional.of(
        new AgentRunException(
            kind, operation, status, code, message, reply.requestId(), retryAfter, false, null));
  }

  /**
   * The service's wait hint: x-acs-retry-after in milliseconds (how Aliyun's SDKs read it) or the
   * standard Retry-After in seconds.
   */
  static Duration retryAfter(HttpHeaders headers) {
    Optional<String> acs = headers.firstValue("x-acs-retry-after");
    if (acs.isPresent()) {
      try {
        long millis = Long.parseLong(acs.get().strip());
        if (millis > 0) {
          return Duration.ofMillis(millis);
        }
      } catch (NumberFormatException ignored) {
        // fall through to Retry-After
      }
    }
    return RetryAfter.of(headers);
  }

  /** The Host header the JDK client sends for this URI (it cannot be set by hand). */
  static String hostHeader(URI uri) {
    int port = uri.getPort();
    boolean https = "https".equalsIgnoreCase(uri.getScheme());
    boolean defaultPort = port == -1 || (https ? port == 443 : port == 80);
    return defaultPort ? uri.getHost() : uri.getHost() + ":" + port;
  }

  static String text(JsonNode node, String... names) {
    for (String name : names) {
      JsonNode value = node.get(name);
      if (value != null && !value.isNull() && !value.asText().isBlank()) {
        return value.asText();
      }
    }
    return null;
  }

  /** The data field of an envelope, or the body itself when it is not wrapped. */
  static JsonNode data(JsonNode body) {
    if (body == null) {
      return NullNode.getInstance();
    }
    JsonNode data = body.get("data");
    return data != null && !data.isNull() && body.has("code") ? data : body;
  }

  private static String snippet(String text) {
    String oneLine = text.replaceAll("\\s+", " ").strip();
    return oneLine.length() > MAX_MESSAGE ? oneLine.substring(0, MAX_MESSAGE) + "…" : oneLine;
  }
}
