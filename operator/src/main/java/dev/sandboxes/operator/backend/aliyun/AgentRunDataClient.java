package dev.sandboxes.operator.backend.aliyun;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * The AgentRun data plane of one account (no version prefix, AGENTRUN4-HMAC-SHA256): a sandbox's
 * health, file writes and shell commands. Health and file writes are retried on transient
 * failures; a command never is, unless the connection could not even be opened, because a
 * command that may have started must not run twice.
 */
final class AgentRunDataClient {

  /** What a command reported. stdout and stderr are the service's text. */
  record CommandResult(Integer exitCode, String status, String stdout, String stderr, String requestId) {}

  private final URI base;
  private final String host;
  private final String basePath;
  private final AgentRunDataSigner signer;
  private final AgentRunHttp http;
  private final AgentRunTimings timings;

  AgentRunDataClient(URI base, AliyunCredentials credentials, String region, AgentRunHttp http, AgentRunTimings timings,
      Clock clock) {
    this.base = base;
    this.host = AgentRunHttp.hostHeader(base);
    this.basePath = base.getRawPath() == null ? "" : base.getRawPath();
    this.signer = new AgentRunDataSigner(credentials, region, clock);
    this.http = http;
    this.timings = timings;
  }

  /** Whether the sandbox's interpreter answers its health check ({"status":"ok"}). */
  boolean healthy(String sandboxId, Abort abort) throws AgentRunException, Abort.AbortedException {
    try {
      JsonNode body = send("SandboxHealth", "GET", "/sandboxes/" + sandboxId + "/health", null, timings.callTimeout(), abort, true);
      return "ok".equalsIgnoreCase(AgentRunHttp.text(AgentRunHttp.data(body), "status"));
    } catch (AgentRunException e) {
      if (e.kind() == AgentRunException.Kind.NOT_FOUND || e.kind() == AgentRunException.Kind.SERVER
          || e.kind() == AgentRunException.Kind.CONNECTION) {
        return false; // not routable or not started yet; the caller polls until its deadline
      }
      throw e;
    }
  }

  /** Writes a UTF-8 text file in the sandbox (directories created). Idempotent, so retried. */
  void writeFile(String sandboxId, String path, String content, String mode, Abort abort)
      throws AgentRunException, Abort.AbortedException {
    ObjectNode body = AgentRunHttp.JSON.createObjectNode();
    body.put("path", path);
    body.put("content", content);
    body.put("mode", mode);
    body.put("encoding", "utf-8");
    body.put("createDir", true);
    send("WriteFile", "POST", "/sandboxes/" + sandboxId + "/files", body, timings.callTimeout(), abort, true);
  }

  /**
   * Runs a shell command in the sandbox and waits for it (the service answers when it ended).
   *
   * @param wait how long to wait for the answer; the caller's abort ends it sooner
   */
  CommandResult runCommand(String sandboxId, String command, String cwd, int timeoutSeconds, Duration wait, Abort abort)
      throws AgentRunException, Abort.AbortedException {
    ObjectNode body = AgentRunHttp.JSON.createObjectNode();
    body.put("command", command);
    body.put("cwd", cwd);
    body.put("timeout", timeoutSeconds);
    JsonNode reply = send("RunCommand", "POST", "/sandboxes/" + sandboxId + "/processes/cmd", body, wait, abort, false);
    // Answers come flat or wrapped in data, with the process fields flat or under result.
    JsonNode data = AgentRunHttp.data(reply);
    JsonNode result = data.has("result") && data.get("result").isObject() ? data.get("result") : data;
    Integer exitCode = result.has("exitCode") && result.get("exitCode").canConvertToInt() ? result.get("exitCode").asInt() : null;
    String status = AgentRunHttp.text(data, "status");
    if (status == null) {
      status = AgentRunHttp.text(result, "status");
    }
    return new CommandResult(exitCode, status, textOrEmpty(result, "stdout"), textOrEmpty(result, "stderr"),
        AgentRunHttp.text(reply, "requestId", "RequestId"));
  }

  private JsonNode send(String operation, String method, String path, JsonNode body, Duration wait, Abort abort, boolean retry)
      throws AgentRunException, Abort.AbortedException {
    byte[] bytes;
    try {
      bytes = body == null ? null : AgentRunHttp.JSON.writeValueAsBytes(body);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    String fullPath = basePath + path;
    AgentRunException last = null;
    Duration backoff = timings.retryBackoff();
    for (int attempt = 1; attempt <= Math.max(1, timings.attempts()); attempt++) {
      if (attempt > 1) {
        abort.sleep(backoff);
        backoff = backoff.multipliedBy(2);
      }
      HttpRequest.Builder request =
          HttpRequest.newBuilder(URI.create(base.getScheme() + "://" + base.getRawAuthority() + fullPath))
              .timeout(wait)
              .method(method, bytes == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(bytes))
              .header("Accept", "application/json");
      if (bytes != null) {
        request.header("Content-Type", "application/json");
      }
      signer.sign(method, host, fullPath, Map.of()).forEach((name, value) -> {
        if (!name.equals("host")) {
          request.header(name, value);
        }
      });
      try {
        AgentRunHttp.Reply reply = http.exchange(operation, request.build(), wait, abort);
        Optional<AgentRunException> failure = AgentRunHttp.failure(operation, reply);
        if (failure.isEmpty()) {
          JsonNode json = reply.jsonOrNull();
          return json == null ? AgentRunHttp.JSON.createObjectNode() : json;
        }
        throw failure.get();
      } catch (AgentRunException e) {
        boolean again = retry ? e.transientFailure() : e.kind() == AgentRunException.Kind.CONNECTION && e.notSent();
        if (!again) {
          throw e;
        }
        last = e;
      }
    }
    throw last;
  }

  private static String textOrEmpty(JsonNode node, String field) {
    JsonNode value = node.get(field);
    return value == null || value.isNull() ? "" : value.asText();
  }
}
