package dev.sandboxes.operator.backend.e2b;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.operator.backend.SandboxBackendFactory;
import dev.sandboxes.operator.cli.RunCommand;
import dev.sandboxes.operator.config.OperatorConfig;
import dev.sandboxes.operator.testing.FakeE2bServer;
import dev.sandboxes.operator.testing.ProjectPaths;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The shipped E2B example (examples/providers/e2b.yaml with its Secret manifest) runs the shipped
 * CodeExecution examples through the `run` command, against the fake service: only apiUrl and the
 * placeholder key are replaced.
 */
@Tag("unit")
class E2bExamplesRunTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path dir;

  private final String apiKey = FakeE2bServer.newApiKey();
  private FakeE2bServer fake;

  @BeforeEach
  void startFake() throws Exception {
    fake = new FakeE2bServer(apiKey);
  }

  @AfterEach
  void stopFake() {
    fake.close();
  }

  /** A copy of an example with a 120 s time limit instead of its 10 s (see the provider above). */
  private Path untimed(Path example) throws java.io.IOException {
    Path copy = dir.resolve(example.getFileName());
    Files.writeString(
        copy, Files.readString(example).replace("timeoutSeconds: 10", "timeoutSeconds: 120"));
    return copy;
  }

  @Test
  void theExampleProviderRunsTheExamples() throws Exception {
    Path examples = ProjectPaths.root().resolve("examples");
    ObjectNode provider =
        (ObjectNode)
            new ObjectMapper(new com.fasterxml.jackson.dataformat.yaml.YAMLFactory())
                .readTree(examples.resolve("providers/e2b.yaml").toFile());
    ((ObjectNode) provider.path("spec").path("e2b")).put("apiUrl", fake.apiUrl());
    // The limits are not what this test checks, and a loaded machine can take seconds to start
    // Python.
    ((ObjectNode) provider.path("spec").path("limits")).put("defaultTimeoutSeconds", 120);
    Path providerFile = dir.resolve("provider.json");
    Files.writeString(providerFile, provider.toString());
    String secret = Files.readString(examples.resolve("providers/e2b-api-key.yaml"));
    assertThat(secret).contains("e2b_REPLACE_WITH_YOUR_API_KEY");
    Path secretFile = dir.resolve("secret.yaml");
    Files.writeString(secretFile, secret.replace("e2b_REPLACE_WITH_YOUR_API_KEY", apiKey));

    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    SandboxBackendFactory factory =
        new SandboxBackendFactory()
            .register(
                ProviderType.E2B,
                context ->
                    new E2bSandboxBackend(context, fake.sandboxUrl(), E2bTimings.defaults()));
    RunCommand command =
        new RunCommand(
            factory,
            OperatorConfig.defaults(),
            Map.of(),
            new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8),
            Clock.systemUTC());
    int exit =
        new CommandLine(command)
            .execute(
                "--provider",
                providerFile.toString(),
                "--secret",
                "e2b-api-key=" + secretFile,
                "-o",
                "json",
                "-f",
                untimed(examples.resolve("hello-python.yaml")).toString(),
                "-f",
                untimed(examples.resolve("hello-javascript.yaml")).toString(),
                "-f",
                untimed(examples.resolve("user-error.yaml")).toString());

    assertThat(exit)
        .as(err.toString(StandardCharsets.UTF_8))
        .isEqualTo(1); // user-error fails in user code
    JsonNode items = JSON.readTree(out.toString(StandardCharsets.UTF_8)).path("items");
    assertThat(items).hasSize(3);
    assertThat(items.get(0).path("status").path("phase").asText()).isEqualTo("Succeeded");
    assertThat(items.get(0).path("status").path("result").path("greeting").asText())
        .isEqualTo("Hello, Wörld!");
    assertThat(items.get(0).path("status").path("sandbox").path("type").asText()).isEqualTo("E2B");
    assertThat(items.get(1).path("status").path("phase").asText()).isEqualTo("Succeeded");
    assertThat(items.get(1).path("status").path("result").path("doubled").asInt()).isEqualTo(42);
    assertThat(items.get(2).path("status").path("phase").asText()).isEqualTo("Failed");
    assertThat(items.get(2).path("status").path("stderr").asText()).contains("ZeroDivisionError");
    assertThat(out.toString(StandardCharsets.UTF_8) + err.toString(StandardCharsets.UTF_8))
        .doesNotContain(apiKey);
    assertThat(fake.createRequests())
        .allSatisfy(
            create ->
                assertThat(create.path("templateID").asText()).isEqualTo("code-interpreter-v1"));
    org.awaitility.Awaitility.await()
        .untilAsserted(() -> assertThat(fake.liveSandboxes()).isEmpty());
    assertThat(fake.killedSandboxes()).hasSize(3);
  }
}
