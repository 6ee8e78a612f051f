package dev.sandboxes.operator.backend.aliyun;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sandboxes.operator.backend.RunGuard;
import dev.sandboxes.operator.backend.saas.Retrying;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * The AgentRun data plane of one account (no version prefix, AGENTRUN4-HMAC-SHA256): the sandbox
 * lifecycle (create, get, delete, as the official SDK does it), a sandbox's health, file writes and
 * shell commands. Idempotent calls are retried on 5xx and on no answer; a command never is, unless
 * the connection could not even be opened, because a command that may have started must not run
 * twice.
 */
final class AgentRunDataClient {

  /** What a command reported. stdout and stderr are the service's text. */
  record CommandResult(
      Integer exitCode, String status, String stdout, String stderr, String requestId) {}

  /** One health answer: ok, or why not (an HTTP error, a status other than ok). */
  record Health(boolean ok, String detail, AgentRunException error) {}

  private final String host;
  private final URI base;
  private final String basePath;
  private final AgentRunDataSigner signer;
  private final AgentRunHttp http;
  private final AgentRunTimings timings;

  AgentRunDataClient(
      URI base,
      AliyunCredentials credentials,
      String region,
      AgentRunHttp http,
      AgentRunTimings timings,
      Clock clock) {
    this.base = base;
    this.host = AgentRunHttp.hostHeader(base);
    this.basePath = base.getRawPath() == null ? "" : base.getRawPath();
    this.signer = new AgentRunDataSigner(credentials, region, clock);
    this.http = http;
    this.timings = timings;
  }

  URI base() {
    return base;
  }

  /**
   * POST /sandboxes: creates a sandbox from a template. With a chosen id a retry cannot make a
   * second sandbox, so 5xx and lost answers are retried; without one only a call that surely did
   * not reach the service is.
   *
   * @param sandboxId the id to create it with, or null to let the service choose
   */
  JsonNode createSandbox(String template, String sandboxId, int idleTimeoutSeconds, RunGuard abort)
      throws AgentRunException, RunGuard.StoppedException {
    ObjectNode body = AgentRunHttp.JSON.createObjectNode();
    body.put("templateName", template);
    body.put("sandboxIdleTimeoutSeconds", idleTimeoutSeconds);
    if (sandboxId != null) {
      body.put("sandboxId", sandboxId);
    }
    Retry retry = sandboxId != null ? Retry.TRANSIENT : Retry.NOT_SENT;
    return AgentRunHttp.data(
        send("CreateSandbox", "POST", "/sandboxes", body, timings.callTimeout(), abort, retry));
  }

  /** GET /sandboxes/{id}; empty when it does not exist (404, or a "sandbox not found" answer). */
  Optional<JsonNode> getSandbox(String sandboxId, RunGuard abort)
      throws AgentRunException, RunGuard.StoppedException {
    try {
      return Optional.of(
          AgentRunHttp.data(
              send(
                  "GetSandbox",
                  "GET",
                  "/sandboxes/" + sandboxId,
                  null,
                  timings.callTimeout(),
                  abort,
                  Retry.TRANSIENT)));
    } catch (AgentRunException e) {
      if (e.kind() == AgentRunException.Kind.NOT_FOUND) {
        return Optional.empty();
      }
      throw e;
    }
  }

  /**
   * DELETE /sandboxes/{id}; false when it was already gone (404, or 200 with "sandbox not found").
   */
  boolean deleteSandbox(String sandboxId) throws AgentRunException {
    try {
      send(
          "DeleteSandbox",
          "DELETE",
          "/sandboxes/" + sandboxId,
          null,
          timings.callTimeout(),
          RunGuard.never(),
          Retry.TRANSIENT);
      return true;
    } catch (AgentRunException e) {
      if (e.kind() == AgentRunException.Kind.NOT_FOUND) {
        return false;
      }
      throw e;
    } catch (RunGuard.StoppedException e) {
      throw new IllegalStateException(e); // RunGuard.never() does not fire
    }
  }

  /**
   * One GET /sandboxes/{id}/health. Never throws for an answer: like the official SDK, the caller
   * treats every error and every status but ok as "not ready yet".
   */
  Health health(String sandboxId, RunGuard abort) throws RunGuard.StoppedException {
    try {
      JsonNode body =
          send(
              "SandboxHealth",
              "GET",
              "/sandboxes/" + sandboxId + "/health",
              null,
              timings.callTimeout(),
              abort,
              Retry.NEVER);
      String status = AgentRunHttp.text(AgentRunHttp.data(body), "status");
      return "ok".equalsIgnoreCase(status)
          ? new Health(true, "ok", null)
          : new Health(false, "status " + status, null);
    } catch (AgentRunException e) {
      return new Health(false, e.getMessage(), e);
    }
  }

  /** Writes a UTF-8 text file in the sandbox (directories created). Idempotent, so retried. */
  void writeFile(String sandboxId, String path, String content, String mode, RunGuard abort)
      throws AgentRunException, RunGuard.StoppedException {
    ObjectNode body = AgentRunHttp.JSON.createObjectNode();
    body.put("path", path);
    body.put("content", content);
    body.put("mode", mode);
    body.put("encoding", "utf-8");
    body.put("createDir", true);
    send(
        "WriteFile",
        "POST",
        "/sandboxes/" + sandboxId + "/files",
        body,
        timings.callTimeout(),
        abort,
        Retry.TRANSIENT);
  }

  /**
   * Runs a shell command in the sandbox and waits for it (the service answers when it ended).
   *
   * @param wait how long to wait for the answer; the caller's abort ends it sooner
   * @param maxResponseBytes the largest answer accepted (the command bounds its own output)
   */
  CommandResult runCommand(
      String sandboxId,
      String command,
      String cwd,
      int timeoutSeconds,
      Duration wait,
      long maxResponseBytes,
      RunGuard abort)
      throws AgentRunException, RunGuard.StoppedException {
    ObjectNode body = AgentRunHttp.JSON.createObjectNode();
    body.put("command", command);
    body.put("cwd", cwd);
    body.put("timeout", timeoutSeconds);
    AgentRunHttp.Reply answer =
        exchangeOnce(
            "RunCommand",
            "POST",
            "/sandboxes/" + sandboxId + "/processes/cmd",
            body,
            wait,
            maxResponseBytes,
            abort);
    JsonNode reply = answer.jsonOrNull();
    if (reply == null) {
      throw AgentRunException.protocol(
          "RunCommand", answer.status(), "the answer is not JSON", answer.requestId());
    }
    // Answers come flat or wrapped in data, with the process fields flat or under result.
    JsonNode data = AgentRunHttp.data(reply);
    JsonNode result =
        data.has("result") && data.get("result").isObject() ? data.get("result") : data;
    Integer exitCode =
        result.has("exitCode") && result.get("exitCode").canConvertToInt()
            ? result.get("exitCode").asInt()
            : null;
    String status = AgentRunHttp.text(data, "status");
    if (status == null) {
      status = AgentRunHttp.text(result, "status");
    }
    return new CommandResult(
        exitCode,
        status,
        textOrEmpty(result, "stdout"),
        textOrEmpty(result, "stderr"),
        answer.requestId());
  }

  /** Which failures a call may be sent again after. */
  private enum Retry {
    /** 5xx and no answer: the call is idempotent. */
    TRANSIENT,
    /** Only a connection that could not be opened: the request surely did not arrive. */
    NOT_SENT,
    /** Never: the caller decides (health polls). */
    NEVER
  }

  private JsonNode send(
      String operation,
      String method,
      String path,
      JsonNode body,
      Duration wait,
      RunGuard abort,
      Retry retry)
      throws AgentRunException, RunGuard.StoppedException {
    Predicate<AgentRunException> again =
        switch (retry) {
          case TRANSIENT -> AgentRunException::transientFailure;
          case NOT_SENT -> e -> e.kind() == AgentRunException.Kind.CONNECTION && e.notSent();
          case NEVER -> e -> false;
        };
    return Retrying.call(
        timings.retries(),
        again,
        abort,
        () -> {
          AgentRunHttp.Reply reply = exchangeOnce(operation, method, path, body, wait, -1, abort);
          JsonNode json = reply.jsonOrNull();
          return json == null ? AgentRunHttp.JSON.createObjectNode() : json;
        });
  }

  /** One signed request; an answer that stands for a failure is thrown. */
  private AgentRunHttp.Reply exchangeOnce(
      String operation,
      String method,
      String path,
      JsonNode body,
      Duration wait,
      long maxResponseBytes,
      RunGuard abort)
      throws AgentRunException, RunGuard.StoppedException {
    byte[] bytes;
    try {
      bytes = body == null ? null : AgentRunHttp.JSON.writeValueAsBytes(body);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    String fullPath = basePath + path;
    HttpRequest.Builder request =
        HttpRequest.newBuilder(
                URI.create(base.getScheme() + "://" + base.getRawAuthority() + fullPath))
            .timeout(wait)
            .method(
                method,
                bytes == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofByteArray(bytes))
            .header("Accept", "application/json");
    if (bytes != null) {
      request.header("Content-Type", "application/json");
    }
    signer
        .sign(method, host, fullPath, Map.of())
        .forEach(
            (name, value) -> {
              if (!name.equals("host")) {
                request.header(name, value);
              }
            });
    AgentRunHttp.Reply reply =
        maxResponseBytes > 0
            ? http.exchange(operation, request.build(), wait, abort, maxResponseBytes)
            : http.exchange(operation, request.build(), wait, abort);
    Optional<AgentRunException> failure = AgentRunHttp.failure(operation, reply);
    if (failure.isPresent()) {
      throw failure.get();
    }
    return reply;
  }

  private static String textOrEmpty(JsonNode node, String field) {
    JsonNode value = node.get(field);
    return value == null || value.isNull() ? "" : value.asText();
  }
}
