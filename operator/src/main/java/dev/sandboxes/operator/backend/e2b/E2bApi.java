package dev.sandboxes.operator.backend.e2b;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sandboxes.operator.backend.RunGuard;
import dev.sandboxes.operator.backend.saas.NoAnswer;
import dev.sandboxes.operator.backend.saas.RetryAfter;
import dev.sandboxes.operator.backend.saas.SaasHttp;
import dev.sandboxes.operator.backend.saas.SaasReply;
import dev.sandboxes.operator.provider.ServiceCallListener;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * The REST control plane of an E2B-protocol service (e2b-dev/E2B spec/openapi.yml): create, get,
 * kill and list sandboxes, authenticated with X-API-Key. Every call is bounded in time and response
 * size.
 */
final class E2bApi {

  static final int MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
  private static final ObjectMapper JSON = new ObjectMapper();

  /** A created sandbox. The access token authenticates envd calls and is never printed. */
  record CreatedSandbox(
      String sandboxId, String envdAccessToken, String domain, String envdVersion) {
    @Override
    public String toString() {
      return "CreatedSandbox[" + sandboxId + ", envd " + envdVersion + "]";
    }
  }

  private final SaasHttp http;
  private final String apiUrl;
  private final String apiKey;
  private final Duration timeout;
  private final Redactor redactor;

  /**
   * @param calls where each call's outcome is reported (the operator's metrics)
   */
  E2bApi(
      HttpClient http,
      String apiUrl,
      String apiKey,
      Duration timeout,
      Redactor redactor,
      ServiceCallListener calls) {
    this.http = new SaasHttp(http, calls, this::outcome);
    this.apiUrl = apiUrl;
    this.apiKey = apiKey;
    this.timeout = timeout;
    this.redactor = redactor;
  }

  String apiUrl() {
    return apiUrl;
  }

  /** A service's text made safe for a status (see {@link Redactor}). */
  String redact(String text) {
    return redactor.clean(text);
  }

  /** POST /sandboxes; 201 with the sandbox. Secure, so envd asks for the access token. */
  CreatedSandbox create(
      String template, long timeoutSeconds, Map<String, String> metadata, RunGuard guard)
      throws E2bServiceException, InterruptedException {
    ObjectNode body = JSON.createObjectNode();
    body.put("templateID", template);
    body.put("timeout", timeoutSeconds);
    ObjectNode meta = body.putObject("metadata");
    metadata.forEach(meta::put);
    body.put("secure", true);
    // Deny by default, as every other provider: the sandbox gets no internet access.
    body.put("allow_internet_access", false);
    SaasReply answer =
        send(
            request("/sandboxes").POST(jsonBody(body)).header("Content-Type", "application/json"),
            guard);
    if (answer.status() != 201 && answer.status() != 200) {
      throw error(answer);
    }
    JsonNode created = parse(answer);
    String id = text(created, "sandboxID");
    if (id == null || id.isBlank()) {
      throw new E2bServiceException(
          answer.status(), null, "the create response has no sandboxID", null);
    }
    String token = text(created, "envdAccessToken");
    redactor.remember(token);
    return new CreatedSandbox(id, token, text(created, "domain"), text(created, "envdVersion"));
  }

  /** DELETE /sandboxes/{id}; a sandbox that is already gone counts as killed. */
  void kill(String sandboxId) throws E2bServiceException, InterruptedException {
    SaasReply answer = send(request("/sandboxes/" + encode(sandboxId)).DELETE(), RunGuard.never());
    if (answer.status() != 204 && answer.status() != 200 && answer.status() != 404) {
      throw error(answer);
    }
  }

  /** GET /sandboxes/{id}: present, gone, or unknown (empty) when the service does not say. */
  Optional<Boolean> exists(String sandboxId) throws InterruptedException {
    try {
      SaasReply answer = send(request("/sandboxes/" + encode(sandboxId)).GET(), RunGuard.never());
      if (answer.status() == 200) {
        return Optional.of(true);
      }
      return answer.status() == 404 ? Optional.of(false) : Optional.empty();
    } catch (E2bServiceException e) {
      return Optional.empty();
    }
  }

  /**
   * Ids of running sandboxes whose metadata holds all these pairs (GET /v2/sandboxes, first page).
   */
  List<String> list(Map<String, String> metadata) throws E2bServiceException, InterruptedException {
    String filter =
        metadata.entrySet().stream()
            .map(e -> encode(e.getKey()) + "=" + encode(e.getValue()))
            .collect(Collectors.joining("&"));
    SaasReply answer =
        send(request("/v2/sandboxes?limit=100&metadata=" + encode(filter)).GET(), RunGuard.never());
    if (answer.status() != 200) {
      throw error(answer);
    }
    List<String> ids = new ArrayList<>();
    JsonNode items = parse(answer);
    if (items.isArray()) {
      for (JsonNode item : items) {
        String id = text(item, "sandboxID");
        if (id != null) {
          ids.add(id);
        }
      }
    }
    return ids;
  }

  /**
   * An authenticated, cheap call for the health probe: list at most one sandbox. Services without
   * the v2 listing answer 404 there; the older GET /sandboxes is tried then.
   */
  SaasReply probe() throws E2bServiceException, InterruptedException {
    SaasReply answer = send(request("/v2/sandboxes?limit=1").GET(), RunGuard.never());
    if (answer.status() == 404) {
      answer = send(request("/sandboxes").GET(), RunGuard.never());
    }
    return answer;
  }

  /**
   * The service's message from an error answer (JSON {code, message, error_code} or plain text).
   */
  E2bServiceException error(SaasReply answer) {
    String message = null;
    String errorCode = null;
    try {
      JsonNode body = JSON.readTree(answer.body());
      if (body != null && body.isObject()) {
        message = text(body, "message");
        errorCode = text(body, "error_code");
      }
    } catch (IOException notJson) {
      // plain text below
    }
    if (message == null) {
      message = new String(answer.body(), StandardCharsets.UTF_8);
    }
    if (message.isBlank()) {
      message = "no message";
    }
    return new E2bServiceException(
        answer.status(), errorCode, redactor.clean(message), RetryAfter.of(answer.headers()));
  }

  private HttpRequest.Builder request(String path) {
    return HttpRequest.newBuilder(URI.create(apiUrl + path))
        .timeout(timeout)
        .header("X-API-Key", apiKey)
        .header("Accept", "application/json");
  }

  /**
   * Sends and waits for the whole (bounded) answer, at most the request timeout; reports the
   * outcome.
   */
  SaasReply send(HttpRequest.Builder builder, RunGuard guard)
      throws E2bServiceException, InterruptedException {
    return send(http, builder.build(), timeout, guard, redactor);
  }

  /** How an answer counts for the metrics: by status, with capacity refusals as throttled. */
  private ServiceCallListener.Outcome outcome(SaasReply answer) {
    ServiceCallListener.Outcome outcome = ServiceCallListener.Outcome.ofStatus(answer.status());
    if (outcome != ServiceCallListener.Outcome.OK && error(answer).isQuota()) {
      outcome = ServiceCallListener.Outcome.THROTTLED; // e.g. 503 sandbox_capacity_unavailable
    }
    return outcome;
  }

  /**
   * Sends with the shared exchange, waiting a second beyond the request's own timeout so the
   * client's timeout answers first; a call the run aborted is "unreachable" too, as callers only
   * ask whether the service answered.
   */
  static SaasReply send(
      SaasHttp http, HttpRequest request, Duration timeout, RunGuard guard, Redactor redactor)
      throws E2bServiceException, InterruptedException {
    try {
      return http.exchange(request, timeout.plusSeconds(1), guard, MAX_RESPONSE_BYTES);
    } catch (RunGuard.StoppedException e) {
      throw E2bServiceException.unreachable(
          "the call to " + request.uri().getHost() + " was aborted");
    } catch (NoAnswer e) {
      throw switch (e.kind()) {
        case TIMED_OUT ->
            E2bServiceException.unreachable(
                request.uri().getHost() + " did not answer within " + timeout.toSeconds() + "s");
        case CANCELLED ->
            E2bServiceException.unreachable(
                "the call to " + request.uri().getHost() + " was aborted");
        case FAILED, TOO_LARGE ->
            E2bServiceException.unreachable(
                request.method()
                    + " "
                    + request.uri().getScheme()
                    + "://"
                    + request.uri().getAuthority()
                    + request.uri().getPath()
                    + " failed: "
                    + redactor.clean(rootMessage(e.getCause())));
      };
    }
  }

  private JsonNode parse(SaasReply answer) throws E2bServiceException {
    try {
      return JSON.readTree(answer.body());
    } catch (IOException e) {
      throw new E2bServiceException(
          answer.status(), null, "the service answered with malformed JSON", null);
    }
  }

  private static HttpRequest.BodyPublisher jsonBody(JsonNode body) {
    try {
      return HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body));
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  static String text(JsonNode node, String field) {
    JsonNode value = node == null ? null : node.get(field);
    return value == null || value.isNull() ? null : value.asText();
  }

  static String encode(String value) {
    return URLEncoder.encode(value, StandardCharsets.UTF_8).replace("+", "%20");
  }

  static String rootMessage(Throwable e) {
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String message = root.getMessage();
    return message == null || message.isBlank() ? root.getClass().getSimpleName() : message;
  }
}
