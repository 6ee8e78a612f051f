package dev.sandboxes.operator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.operator.backend.SandboxBackendFactory;
import dev.sandboxes.operator.config.OperatorConfig;
import dev.sandboxes.operator.execution.ExecutionOutcome;
import dev.sandboxes.operator.execution.Termination;
import dev.sandboxes.operator.runner.RunnerReport;
import dev.sandboxes.operator.runner.StreamCapture;
import dev.sandboxes.operator.testing.FakeSandboxBackend;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The run command's input handling, output shape and exit statuses, on an in-memory backend. */
@Tag("unit")
class RunCommandTest {

  @TempDir Path dir;

  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();
  private final AtomicReference<Map<String, Map<String, String>>> secretsSeen =
      new AtomicReference<>();
  private FakeSandboxBackend backend = new FakeSandboxBackend(2);

  private static final String PROVIDER =
      """
      apiVersion: sandboxes.dev/v1alpha1
      kind: SandboxProvider
      metadata: {name: fake}
      spec:
        type: Docker
        docker: {host: "unix:///fake.sock"}
      """;

  private static final String TWO_EXECUTIONS =
      """
      apiVersion: sandboxes.dev/v1alpha1
      kind: CodeExecution
      metadata: {name: one}
      spec: {language: python, code: "def main(x): return x", arguments: {x: true}}
      ---
      apiVersion: sandboxes.dev/v1alpha1
      kind: CodeExecution
      metadata: {name: two}
      spec: {language: javascript, code: "function main(a) { return a }"}
      """;

  @Test
  void printsAListWithStatusesAndExitsZeroWhenAllSucceed() throws Exception {
    int exit = run("--provider", write("p.yaml", PROVIDER), "-f", write("e.yaml", TWO_EXECUTIONS));
    assertThat(exit).isZero();
    JsonNode list = Manifests.YAML.readTree(out.toString(StandardCharsets.UTF_8));
    assertThat(list.get("kind").asText()).isEqualTo("List");
    assertThat(list.get("items")).hasSize(2);
    assertThat(list.get("items").get(0).at("/status/phase").asText()).isEqualTo("Succeeded");
    assertThat(list.get("items").get(0).at("/status/result/x").asBoolean()).isTrue();
    assertThat(list.get("items").get(1).at("/metadata/namespace").asText()).isEqualTo("default");
    assertThat(err.toString(StandardCharsets.UTF_8))
        .contains("Running default/one")
        .contains("Succeeded");
  }

  @Test
  void oneExecutionPrintsTheObjectItselfAsJson() throws Exception {
    int exit =
        run(
            "--provider",
            write("p.yaml", PROVIDER),
            "-f",
            write("e.yaml", TWO_EXECUTIONS.split("---")[0]),
            "-o",
            "json",
            "-q");
    assertThat(exit).isZero();
    JsonNode cx = Manifests.JSON.readTree(out.toString(StandardCharsets.UTF_8));
    assertThat(cx.get("kind").asText()).isEqualTo("CodeExecution");
    assertThat(err.toString(StandardCharsets.UTF_8)).isEmpty();
  }

  @Test
  void userCodeFailureExitsOne() throws Exception {
    backend.behaviour(
        request ->
            new ExecutionOutcome(
                Termination.EXITED,
                1,
                StreamCapture.EMPTY,
                new StreamCapture("Traceback", 9, false),
                new RunnerReport("error", "Exception", "ValueError: no", null, null),
                null,
                Instant.now(),
                Instant.now(),
                null));
    assertThat(run("--provider", write("p.yaml", PROVIDER), "-f", write("e.yaml", TWO_EXECUTIONS)))
        .isEqualTo(1);
    assertThat(out.toString(StandardCharsets.UTF_8)).contains("UserCodeError");
  }

  @Test
  void artifactsAreListedInThePrintedStatusAndWrittenToTheArtifactsDir() throws Exception {
    backend.behaviour(
        request -> {
          var plain = FakeSandboxBackend.succeedWithArguments(request);
          var artifacts =
              new dev.sandboxes.operator.runner.CollectedArtifacts(
                  List.of(
                      new dev.sandboxes.operator.runner.Artifact(
                          "figure-1.png", new byte[] {(byte) 0x89, 'P', 'N', 'G'}),
                      new dev.sandboxes.operator.runner.Artifact(
                          "tables/out.csv", "a,b\n".getBytes(StandardCharsets.UTF_8))),
                  List.of(),
                  0,
                  false,
                  null);
          return new ExecutionOutcome(
              plain.termination(),
              0,
              plain.stdout(),
              plain.stderr(),
              new RunnerReport("ok", null, null, null, null, null, null, artifacts),
              null,
              plain.startTime(),
              plain.completionTime(),
              null);
        });
    Path artifactsDir = dir.resolve("artifacts");
    int exit =
        run(
            "--provider",
            write("p.yaml", PROVIDER),
            "-f",
            write("e.yaml", TWO_EXECUTIONS.split("---")[0]),
            "--artifacts-dir",
            artifactsDir.toString(),
            "-q");
    assertThat(exit).isZero();
    JsonNode cx = Manifests.YAML.readTree(out.toString(StandardCharsets.UTF_8));
    assertThat(cx.at("/status/artifacts/0/name").asText()).isEqualTo("figure-1.png");
    assertThat(cx.at("/status/artifacts/0/contentType").asText()).isEqualTo("image/png");
    assertThat(cx.at("/status/artifacts/1/name").asText()).isEqualTo("tables/out.csv");
    assertThat(cx.at("/status/artifacts/1/sizeBytes").asLong()).isEqualTo(4);
    assertThat(cx.at("/status/artifacts/1/configMapKeyRef").isMissingNode()).isTrue();
    assertThat(cx.at("/status/message").asText())
        .contains("2 artifacts (8 bytes) written to " + artifactsDir.resolve("one"));
    assertThat(artifactsDir.resolve("one/figure-1.png"))
        .hasBinaryContent(new byte[] {(byte) 0x89, 'P', 'N', 'G'});
    assertThat(artifactsDir.resolve("one/tables/out.csv")).hasContent("a,b");

    out.reset();
    assertThat(
            run(
                "--provider",
                write("p.yaml", PROVIDER),
                "-f",
                write("e.yaml", TWO_EXECUTIONS.split("---")[0]),
                "-q"))
        .isZero();
    assertThat(
            Manifests.YAML
                .readTree(out.toString(StandardCharsets.UTF_8))
                .at("/status/message")
                .asText())
        .contains("2 artifacts (8 bytes) collected; pass --artifacts-dir DIR to write them.");
  }

  @Test
  void sandboxFailureOrInvalidInputExitsTwo() throws Exception {
    backend.behaviour(
        request ->
            ExecutionOutcome.failure(
                Termination.SANDBOX_FAILED,
                null,
                Instant.now(),
                Instant.now(),
                "engine went away"));
    assertThat(run("--provider", write("p.yaml", PROVIDER), "-f", write("e.yaml", TWO_EXECUTIONS)))
        .isEqualTo(2);

    out.reset();
    String invalid =
        "apiVersion: sandboxes.dev/v1alpha1\nkind: CodeExecution\nmetadata: {name: bad}\nspec: {language: python}\n";
    assertThat(run("--provider", write("p.yaml", PROVIDER), "-f", write("bad.yaml", invalid)))
        .isEqualTo(2);
    assertThat(out.toString(StandardCharsets.UTF_8)).contains("InvalidSpec").contains("spec.code");
  }

  @Test
  void clearErrorsForUnreadableInput() throws Exception {
    assertThat(
            run(
                "--provider",
                write("p.yaml", "kind: [oops"),
                "-f",
                write("e.yaml", TWO_EXECUTIONS)))
        .isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("error:").contains("p.yaml");
    err.reset();
    assertThat(
            run(
                "--provider",
                write("p.yaml", PROVIDER),
                "-f",
                write("e.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n")))
        .isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("kind Pod");
    err.reset();
    assertThat(run("--provider", write("p.yaml", PROVIDER))).isEqualTo(2); // -f missing
  }

  @Test
  void providerSecretsComeFromFilesOrTheEnvironmentAndAreNeverPrinted() throws Exception {
    String tlsProvider =
        PROVIDER.replace(
            "host: \"unix:///fake.sock\"",
            "host: \"tcp://engine:2376\", tlsSecretRef: {name: tls}");
    assertThat(
            run("--provider", write("p.yaml", tlsProvider), "-f", write("e.yaml", TWO_EXECUTIONS)))
        .isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("Secret tls").contains("--secret");

    String secret =
        "apiVersion: v1\nkind: Secret\nmetadata: {name: whatever}\nstringData: {ca.crt: CA-SECRET, tls.crt: CERT-SECRET}\n";
    Map<String, String> env = Map.of("SANDBOX_SECRET_TLS_TLS_KEY", "KEY-SECRET");
    out.reset();
    err.reset();
    // The file provides the Secret, so the environment is not consulted for it: tls.key is missing.
    assertThat(
            run(
                env,
                "--provider",
                write("p.yaml", tlsProvider),
                "-f",
                write("e.yaml", TWO_EXECUTIONS),
                "--secret",
                "tls=" + write("s.yaml", secret)))
        .isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("no key tls.key");

    out.reset();
    err.reset();
    Map<String, String> all =
        Map.of(
            "SANDBOX_SECRET_TLS_CA_CRT",
            "CA-SECRET",
            "SANDBOX_SECRET_TLS_TLS_CRT",
            "CERT-SECRET",
            "SANDBOX_SECRET_TLS_TLS_KEY",
            "KEY-SECRET");
    assertThat(
            run(
                all,
                "--provider",
                write("p.yaml", tlsProvider),
                "-f",
                write("e.yaml", TWO_EXECUTIONS)))
        .isZero();
    assertThat(secretsSeen.get().get("tls").get("tls.key")).isEqualTo("KEY-SECRET");
    assertThat(out.toString(StandardCharsets.UTF_8) + err.toString(StandardCharsets.UTF_8))
        .doesNotContain("KEY-SECRET")
        .doesNotContain("CA-SECRET")
        .doesNotContain("CERT-SECRET");
  }

  @Test
  void codeFromAConfigMapInTheSameFile() throws Exception {
    String manifests =
        """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: code}
        data: {main.py: "def main(): return 1"}
        ---
        apiVersion: sandboxes.dev/v1alpha1
        kind: CodeExecution
        metadata: {name: from-config}
        spec: {language: python, codeFrom: {configMapKeyRef: {name: code, key: main.py}}}
        """;
    assertThat(run("--provider", write("p.yaml", PROVIDER), "-f", write("e.yaml", manifests)))
        .isZero();
  }

  @Test
  void aSelfManagedProviderNeedsAClusterAndSaysSo() throws IOException {
    String provider =
        Files.readString(
            dev.sandboxes.operator.testing.ProjectPaths.root()
                .resolve("examples/providers/selfmanaged.yaml"));
    int exit = run("--provider", write("p.yaml", provider), "-f", write("e.yaml", TWO_EXECUTIONS));
    assertThat(exit).isNotZero();
    assertThat(err.toString(StandardCharsets.UTF_8))
        .contains("error: SelfManaged providers run pods in a cluster");
    assertThat(out.toString(StandardCharsets.UTF_8)).isEmpty();
  }

  private int run(String... args) {
    return run(Map.of(), args);
  }

  private int run(Map<String, String> env, String... args) {
    SandboxBackendFactory factory =
        new SandboxBackendFactory()
            .register(
                ProviderType.DOCKER,
                context -> {
                  secretsSeen.set(context.secrets());
                  return backend.builtFrom(context);
                })
            .register(
                ProviderType.SELF_MANAGED,
                dev.sandboxes.operator.backend.selfmanaged.SelfManagedSandboxBackend::new);
    RunCommand command =
        new RunCommand(
            factory,
            OperatorConfig.defaults(),
            env,
            new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8),
            Clock.systemUTC());
    CommandLine commandLine = new CommandLine(command);
    commandLine.setErr(new java.io.PrintWriter(err, true, StandardCharsets.UTF_8));
    return commandLine.execute(args);
  }

  private String write(String name, String content) throws IOException {
    Path file = dir.resolve(name);
    Files.writeString(file, content);
    return file.toString();
  }
}
