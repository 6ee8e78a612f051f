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
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The AgentRun control plane (API 2025-09-10, ROA paths, ACS3-HMAC-SHA256): templates and the
 * sandbox listing. The sandbox lifecycle itself is on the data plane, where the official SDK has
 * it. Transient failures (5xx, no answer) are retried with backoff here; every other failure is
 * thrown, classified, to the caller.
 */
final class AgentRunControlClient {

  private static final String PREFIX = "/" + Acs3Signer.API_VERSION;

  private final URI endpoint;
  private final String host;
  private final Acs3Signer signer;
  private final AgentRunHttp http;
  private final AgentRunTimings timings;

  AgentRunControlClient(
      URI endpoint,
      AliyunCredentials credentials,
      AgentRunHttp http,
      AgentRunTimings timings,
      Clock clock) {
    this.endpoint = endpoint;
    this.host = AgentRunHttp.hostHeader(endpoint);
    this.signer = new Acs3Signer(credentials, clock);
    this.http = http;
    this.timings = timings;
  }

  URI endpoint() {
    return endpoint;
  }

  /** ListTemplates with one item per page: the cheapest authenticated call, used by the probe. */
  JsonNode listTemplates(RunGuard abort) throws AgentRunException, RunGuard.StoppedException {
    return call(
        "ListTemplates",
        "GET",
        PREFIX + "/templates",
        Map.of("pageNumber", "1", "pageSize", "1"),
        null,
        abort);
  }

  /** GetTemplate; empty when it does not exist. */
  Optional<JsonNode> getTemplate(String name, RunGuard abort)
      throws AgentRunException, RunGuard.StoppedException {
    try {
      return Optional.of(
          call("GetTemplate", "GET", PREFIX + "/templates/" + name, Map.of(), null, abort));
    } catch (AgentRunException e) {
      if (e.kind() == AgentRunException.Kind.NOT_FOUND) {
        return Optional.empty();
      }
      throw e;
    }
  }

  /**
   * CreateTemplate of a code-interpreter template with the official SDK's defaults, except the
   * network: PRIVATE unless the provider opted in to internet egress.
   */
  JsonNode createTemplate(
      String name, String networkMode, int sandboxIdleTimeoutSeconds, RunGuard abort)
      throws AgentRunException, RunGuard.StoppedException {
    ObjectNode body = AgentRunHttp.JSON.createObjectNode();
    body.put("templateName", name);
    body.put("templateType", "CodeInterpreter");
    body.put("description", "Created by sandbox-operator for its Aliyun SandboxProviders");
    body.put("cpu", 2.0);
    body.put("memory", 4096);
    body.put("diskSize", 512);
    body.put("sandboxIdleTimeoutInSeconds", sandboxIdleTimeoutSeconds);
    body.put("sandboxTTLInSeconds", 21600);
    body.putObject("networkConfiguration").put("networkMode", networkMode);
    return call("CreateTemplate", "POST", PREFIX + "/templates", Map.of(), body, abort);
  }

  /** One page of ListSandboxes (optionally of one template): data with items and nextToken. */
  JsonNode listSandboxes(String templateName, String nextToken) throws AgentRunException {
    Map<String, String> query = new LinkedHashMap<>();
    query.put("maxResults", "100");
    if (templateName != null) {
      query.put("templateName", templateName);
    }
    if (nextToken != null && !nextToken.isBlank()) {
      query.put("nextToken", nextToken);
    }
    try {
      return call("ListSandboxes", "GET", PREFIX + "/sandboxes", query, null, RunGuard.never());
    } catch (RunGuard.StoppedException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Sends one signed call, retrying transient failures; returns the envelope's data. */
  private JsonNode call(
      String action,
      String method,
      String path,
      Map<String, String> query,
      JsonNode body,
      RunGuard abort)
      throws AgentRunException, RunGuard.StoppedException {
    byte[] bytes;
    try {
      bytes = body == null ? null : AgentRunHttp.JSON.writeValueAsBytes(body);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return Retrying.call(
        timings.retries(),
        AgentRunException::transientFailure,
        abort,
        () -> {
          String queryString = Acs3Signer.queryString(query);
          URI uri = URI.create(endpoint + path + (queryString.isEmpty() ? "" : "?" + queryString));
          HttpRequest.Builder request =
              HttpRequest.newBuilder(uri)
                  .timeout(timings.callTimeout())
                  .method(
                      method,
                      bytes == null
                          ? HttpRequest.BodyPublishers.noBody()
                          : HttpRequest.BodyPublishers.ofByteArray(bytes));
          signer
              .sign(action, method, host, path, query, bytes)
              .forEach(
                  (name, value) -> {
                    if (!name.equals("host")) {
                      request.header(name, value);
                    }
                  });
          AgentRunHttp.Reply reply =
              http.exchange(action, request.build(), timings.callTimeout(), abort);
          Optional<AgentRunException> failure = AgentRunHttp.failure(action, reply);
          if (failure.isPresent()) {
            throw failure.get();
          }
          return AgentRunHttp.data(reply.jsonOrNull());
        });
  }
}
