package dev.sandboxes.operator.testing;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The fake's answers that the E2B backend's error handling reads (E2bExecution: 502 for a sandbox
 * that is gone, "port is not open", 401 for a bad access token), checked against E2B's public
 * sources (docs/providers/e2b.md) so that the fake stays a faithful stand-in.
 */
@Tag("unit")
class FakeE2bServerTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  private final String apiKey = FakeE2bServer.newApiKey();
  private final HttpClient http = HttpClient.newHttpClient();
  private FakeE2bServer fake;
  private String sandboxId;
  private String token;

  @BeforeEach
  void createSandbox() throws Exception {
    fake = new FakeE2bServer(apiKey);
    HttpResponse<String> created =
        http.send(
            HttpRequest.newBuilder(URI.create(fake.apiUrl() + "/sandboxes"))
                .header("X-API-Key", apiKey)
                .POST(
                    HttpRequest.BodyPublishers.ofString(
                        "{\"templateID\":\"code-interpreter-v1\",\"timeout\":60,\"secure\":true}"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(created.statusCode()).isEqualTo(201);
    JsonNode body = JSON.readTree(created.body());
    sandboxId = body.path("sandboxID").asText();
    token = body.path("envdAccessToken").asText();
  }

  @AfterEach
  void stop() {
    fake.close();
  }

  @Test
  void edgeAndEnvdAnswers() throws Exception {
    assertThat(sandbox(49983, "/health", token, null).statusCode()).isEqualTo(204);
    assertThat(sandbox(49983, "/health", "wrong", null).statusCode()).isEqualTo(401);
    HttpResponse<String> missing = sandboxWithId("nope", 49983, "/health", token);
    assertThat(missing.statusCode()).isEqualTo(502);
    assertThat(json(missing.body()).path("message").asText())
        .isEqualTo("The sandbox was not found");
    assertThat(sandbox(8080, "/", token, null).body()).contains("port is not open");
  }

  private HttpResponse<String> sandbox(int port, String path, String accessToken, String body)
      throws Exception {
    HttpRequest.Builder request =
        HttpRequest.newBuilder(URI.create(fake.sandboxUrl() + path))
            .header("E2b-Sandbox-Id", sandboxId)
            .header("E2b-Sandbox-Port", Integer.toString(port))
            .header("X-Access-Token", accessToken)
            .header("Authorization", "Basic dXNlcjo=");
    request =
        body == null
            ? request.GET()
            : request
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body));
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private HttpResponse<String> sandboxWithId(String id, int port, String path, String accessToken)
      throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create(fake.sandboxUrl() + path))
            .header("E2b-Sandbox-Id", id)
            .header("E2b-Sandbox-Port", Integer.toString(port))
            .header("X-Access-Token", accessToken)
            .GET()
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static JsonNode json(String text) {
    try {
      return JSON.readTree(text);
    } catch (Exception e) {
      throw new IllegalArgumentException(text, e);
    }
  }
}
