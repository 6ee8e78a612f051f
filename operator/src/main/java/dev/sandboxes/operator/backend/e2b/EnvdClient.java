package dev.sandboxes.operator.backend.e2b;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sandboxes.operator.backend.RunGuard;
import dev.sandboxes.operator.backend.saas.NoAnswer;
import dev.sandboxes.operator.backend.saas.SaasHttp;
import dev.sandboxes.operator.backend.saas.SaasReply;
import dev.sandboxes.operator.provider.ServiceCallListener;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.List;

/**
 * envd's process service in one sandbox (e2b-dev/infra packages/envd, process.proto), over Connect
 * with JSON messages: Start streams a process's events, SendInput writes to its stdin. Requests
 * carry the routing headers, so one gateway URL can serve every sandbox.
 */
final class EnvdClient {

  static final int ENVD_PORT = 49983;

  /** The user the E2B SDKs name for envd older than 0.4.0, which has no default user. */
  static final String LEGACY_DEFAULT_USER = "user";

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int MAX_ERROR_BODY_BYTES = 64 * 1024;

  private final SaasHttp http;
  private final String baseUrl;
  private final String sandboxId;
  private final String accessToken;
  private final String authorization;
  private final Duration requestTimeout;
  private final Redactor redactor;

  /**
   * @param http the transport {@link #transportFor} picks
   * @param baseUrl where envd of this sandbox is reached (its own host, or a shared gateway)
   * @param user the OS user to run as (envd reads it from the Basic user name), or null for envd's
   *     default user
   */
  EnvdClient(
      HttpClient http,
      String baseUrl,
      String sandboxId,
      String accessToken,
      String user,
      Duration requestTimeout,
      Redactor redactor) {
    // envd's calls are not counted in the service-call metrics: those are about the control plane.
    this.http =
        new SaasHttp(
            http,
            ServiceCallListener.NONE,
            answer -> ServiceCallListener.Outcome.ofStatus(answer.status()));
    this.baseUrl = baseUrl.endsWith("/") ? baseUrl.substring(0, baseUrl.length() - 1) : baseUrl;
    this.sandboxId = sandboxId;
    this.accessToken = accessToken;
    this.authorization =
        user == null
            ? null
            : "Basic "
                + Base64.getEncoder().encodeToString((user + ":").getBytes(StandardCharsets.UTF_8));
    this.requestTimeout = requestTimeout;
    this.redactor = redactor;
  }

  /**
   * The client for envd at this base URL, as the E2B SDKs choose (E2B-PY api/client_async: "leaves
   * the version to ALPN on TLS connections … and uses HTTP/1 for plaintext"): HTTP/2 negotiated by
   * ALPN over https, falling back to HTTP/1.1 where the server does not offer it; HTTP/1.1 over
   * plain http (no h2c upgrade).
   */
  static HttpClient transportFor(String baseUrl, HttpClient http2, HttpClient http11) {
    return baseUrl.regionMatches(true, 0, "https:", 0, 6) ? http2 : http11;
  }

  /**
   * Starts a process with stdin open and returns its event stream once the response headers are in.
   * The argv is passed as given, nothing interpolated; envd (since 2026-03, e2b-dev/infra #2028)
   * runs it as {@code /bin/sh -c '… exec "${@}"' -- argv}, so a missing program is exit 127 with
   * the shell's message on stderr, not a start error.
   *
   * @param serverDeadline sent as Connect-Timeout-Ms: envd kills the process when it lapses
   */
  InputStream start(List<String> argv, Duration serverDeadline, RunGuard guard)
      throws E2bServiceException, InterruptedException {
    ObjectNode request = JSON.createObjectNode();
    ObjectNode process = request.putObject("process");
    process.put("cmd", argv.get(0));
    ArrayNode args = process.putArray("args");
    argv.subList(1, argv.size()).forEach(args::add);
    process.putObject("envs").put("LANG", "C.UTF-8").put("PYTHONDONTWRITEBYTECODE", "1");
    request.put("stdin", true);
    byte[] envelope;
    try {
      envelope = ConnectFrames.encode(JSON.writeValueAsBytes(request));
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    HttpRequest httpRequest =
        builder("/process.Process/Start")
            .header("Content-Type", "application/connect+json")
            .header("Connect-Timeout-Ms", Long.toString(serverDeadline.toMillis()))
            .header("Keepalive-Ping-Interval", "30")
            .POST(HttpRequest.BodyPublishers.ofByteArray(envelope))
            .build();
    HttpResponse<InputStream> response;
    try {
      response = http.open(httpRequest, requestTimeout.plusSeconds(1), guard);
    } catch (RunGuard.StoppedException e) {
      throw E2bServiceException.unreachable("starting the process was aborted");
    } catch (NoAnswer e) {
      throw switch (e.kind()) {
        case TIMED_OUT ->
            E2bServiceException.unreachable(
                "envd did not answer within " + requestTimeout.toSeconds() + "s");
        case CANCELLED -> E2bServiceException.unreachable("starting the process was aborted");
        case FAILED, TOO_LARGE ->
            E2bServiceException.unreachable(
                "envd could not be reached: " + redactor.clean(E2bApi.rootMessage(e.getCause())));
      };
    }
    if (response.statusCode() != 200) {
      byte[] body;
      try (InputStream in = response.body()) {
        body = in.readNBytes(MAX_ERROR_BODY_BYTES);
      } catch (IOException e) {
        body = new byte[0];
      }
      throw error(response.statusCode(), body);
    }
    return response.body();
  }

  /** Writes bytes to the stdin of a process started with stdin open (unary SendInput). */
  void sendStdin(long pid, byte[] data, RunGuard guard)
      throws E2bServiceException, InterruptedException {
    ObjectNode request = JSON.createObjectNode();
    request.putObject("process").put("pid", pid);
    request.putObject("input").put("stdin", Base64.getEncoder().encodeToString(data));
    byte[] body;
    try {
      body = JSON.writeValueAsBytes(request);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    HttpRequest httpRequest =
        builder("/process.Process/SendInput")
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofByteArray(body))
            .build();
    SaasReply answer = E2bApi.send(http, httpRequest, requestTimeout, guard, redactor);
    if (answer.status() != 200) {
      throw error(answer.status(), answer.body());
    }
  }

  private HttpRequest.Builder builder(String path) {
    HttpRequest.Builder builder =
        HttpRequest.newBuilder(URI.create(baseUrl + path))
            .timeout(requestTimeout)
            .header("Connect-Protocol-Version", "1")
            .header("E2b-Sandbox-Id", sandboxId)
            .header("E2b-Sandbox-Port", Integer.toString(ENVD_PORT));
    if (accessToken != null) {
      builder.header("X-Access-Token", accessToken);
    }
    if (authorization != null) {
      builder.header("Authorization", authorization);
    }
    return builder;
  }

  /**
   * An HTTP error before the stream: a Connect error {code, message} from envd, or the edge's
   * {sandboxId, message, code} (502 when the sandbox is gone).
   */
  private E2bServiceException error(int status, byte[] body) {
    String message = null;
    String code = null;
    try {
      JsonNode json = JSON.readTree(body);
      if (json != null && json.isObject()) {
        message = E2bApi.text(json, "message");
        JsonNode codeNode = json.get("code");
        code = codeNode != null && codeNode.isTextual() ? codeNode.asText() : null;
      }
    } catch (IOException notJson) {
      // plain text below
    }
    if (message == null) {
      message = new String(body, StandardCharsets.UTF_8);
    }
    return new E2bServiceException(
        status, code, redactor.clean(message.isBlank() ? "no message" : message), null);
  }
}
