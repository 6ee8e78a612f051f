package dev.sandboxes.operator.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.HashMap;

/**
 * fabric8's CRUD mock server, except that a PUT on a /status subresource is refused with 409 when
 * its resourceVersion is not the stored one, as a real API server does. fabric8 7.9's mock checks
 * the resourceVersion of a status PUT against the stored object itself and so never conflicts: on
 * it, a test of what a second writer does would pass whatever the operator does.
 */
public final class StatusLockingMockServer implements AutoCloseable {

  /**
   * Another writer's status write, made by the server itself just before it handles a status PUT:
   * given the stored object and the status the PUT carries, the status the other writer stores
   * first, or null to let the PUT through alone.
   */
  public interface CompetingWrite {
    JsonNode statusBefore(JsonNode stored, JsonNode incomingStatus);
  }

  private final KubernetesMockServer server;
  private final KubernetesClient client;
  private final Dispatcher dispatcher = new Dispatcher();

  public StatusLockingMockServer() {
    server =
        new KubernetesMockServer(
            new Context(), new MockWebServer(), new HashMap<>(), dispatcher, true);
    server.init();
    client = server.createClient();
  }

  /**
   * Makes another writer's status land between the operator's read and its write, at the exact
   * moment: the PUT that follows is then refused, deterministically.
   */
  public void competeWith(CompetingWrite write) {
    dispatcher.competing = write;
  }

  public KubernetesClient client() {
    return client;
  }

  @Override
  public void close() {
    client.close();
    server.destroy();
  }

  /** The CRUD dispatcher with the resourceVersion check of status PUTs; updates are serialized. */
  private static final class Dispatcher extends KubernetesCrudDispatcher {
    private static final ObjectMapper JSON = new ObjectMapper();
    private volatile CompetingWrite competing;

    @Override
    public synchronized MockResponse handleUpdate(RecordedRequest request) {
      String path = request.getPath();
      String bare = path.contains("?") ? path.substring(0, path.indexOf('?')) : path;
      if (bare.endsWith("/status")) {
        // getBytes() leaves the body for the CRUD handler (getUtf8Body() would consume it).
        String body =
            new String(request.getBody().getBytes(), java.nio.charset.StandardCharsets.UTF_8);
        String objectPath = bare.substring(0, bare.length() - "/status".length());
        if (competing != null) {
          compete(request, path, objectPath, body);
        }
        String sent = version(body);
        MockResponse current = handleGet(objectPath);
        if (!sent.isEmpty()
            && current.code() == 200
            && !sent.equals(version(current.getBody().readUtf8()))) {
          return new MockResponse()
              .setResponseCode(409)
              .setBody(
                  "{\"apiVersion\":\"v1\",\"kind\":\"Status\","
                      + "\"status\":\"Failure\",\"reason\":\"Conflict\",\"code\":409,\"message\":\"Operation cannot be"
                      + " fulfilled: the object has been modified; please apply your changes to the latest version and try"
                      + " again\"}");
        }
      }
      return super.handleUpdate(request);
    }

    /** Stores the competing writer's status first, through the CRUD handler, as its own PUT. */
    private void compete(RecordedRequest request, String path, String objectPath, String body) {
      try {
        JsonNode stored = JSON.readTree(handleGet(objectPath).getBody().readUtf8());
        JsonNode theirs = competing.statusBefore(stored, JSON.readTree(body).path("status"));
        if (theirs != null) {
          ((com.fasterxml.jackson.databind.node.ObjectNode) stored).set("status", theirs);
          byte[] bytes = JSON.writeValueAsBytes(stored);
          super.handleUpdate(
              new RecordedRequest(
                  "HTTP/1.1",
                  request.method(),
                  path,
                  request.getHeaders(),
                  new io.fabric8.mockwebserver.http.Buffer(bytes)));
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    private static String version(String json) {
      try {
        JsonNode node = JSON.readTree(json);
        return node == null ? "" : node.path("metadata").path("resourceVersion").asText();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }
}
