package dev.sandboxes.operator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sandboxes.operator.Backends;
import dev.sandboxes.operator.config.OperatorConfig;
import dev.sandboxes.operator.testing.FakeAgentRunServer;
import dev.sandboxes.operator.testing.ProjectPaths;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
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
 * The `run` command with the example Aliyun provider, its endpoints pointed at the fake AgentRun
 * service, running the Python and JavaScript examples for real.
 */
@Tag("unit")
class RunCommandAliyunTest {

  @TempDir Path dir;

  private FakeAgentRunServer fake;

  @BeforeEach
  void startFake() {
    fake = new FakeAgentRunServer();
  }

  @AfterEach
  void stopFake() {
    assertThat(fake.liveSandboxes()).isEmpty();
    fake.close();
  }

  @Test
  void runsTheExamplesWithCredentialsFromASecretFile() throws IOException {
    Path provider = providerPointingAtTheFake();
    Path secret = dir.resolve("secret.yaml");
    Files.writeString(
        secret,
        Files.readString(ProjectPaths.root().resolve("examples/providers/aliyun-credentials.yaml"))
            .replace("REPLACE-WITH-YOUR-ACCESS-KEY-ID", FakeAgentRunServer.ACCESS_KEY_ID)
            .replace("REPLACE-WITH-YOUR-ACCESS-KEY-SECRET", FakeAgentRunServer.ACCESS_KEY_SECRET));

    Result result =
        run(
            Map.of(),
            "--provider",
            provider.toString(),
            "--secret",
            "aliyun-credentials=" + secret,
            "-f",
            example("hello-python.yaml").toString(),
            "-f",
            example("hello-javascript.yaml").toString(),
            "-q");

    assertThat(result.exit()).as(result.err()).isZero();
    assertThat(result.out())
        .contains("kind: List")
        .contains("phase: Succeeded")
        .doesNotContain("phase: Failed")
        .contains("Hello, Wörld!")
        .contains("type: Aliyun")
        .contains("id: sbx-");
    assertThat(result.out() + result.err()).doesNotContain(FakeAgentRunServer.ACCESS_KEY_SECRET);
    assertThat(fake.createdSandboxes()).hasSize(2);
  }

  @Test
  void readsTheCredentialsFromEnvironmentVariables() throws IOException {
    Result result =
        run(
            Map.of(
                "SANDBOX_SECRET_ALIYUN_CREDENTIALS_ACCESSKEYID", FakeAgentRunServer.ACCESS_KEY_ID,
                "SANDBOX_SECRET_ALIYUN_CREDENTIALS_ACCESSKEYSECRET",
                    FakeAgentRunServer.ACCESS_KEY_SECRET,
                "SANDBOX_SECRET_ALIYUN_CREDENTIALS_ACCOUNTID", FakeAgentRunServer.ACCOUNT_ID),
            "--provider",
            providerPointingAtTheFake().toString(),
            "-f",
            example("user-error.yaml").toString(),
            "-q");

    assertThat(result.exit())
        .as(result.err())
        .isEqualTo(1); // the example fails in user code, on purpose
    assertThat(result.out()).contains("reason: UserCodeError").contains("exitCode: 1");
  }

  @Test
  void wrongCredentialsStopTheRunBeforeAnyExecution() throws IOException {
    Result result =
        run(
            Map.of(
                "SANDBOX_SECRET_ALIYUN_CREDENTIALS_ACCESSKEYID", FakeAgentRunServer.ACCESS_KEY_ID,
                "SANDBOX_SECRET_ALIYUN_CREDENTIALS_ACCESSKEYSECRET", "wrong-secret-value",
                "SANDBOX_SECRET_ALIYUN_CREDENTIALS_ACCOUNTID", FakeAgentRunServer.ACCOUNT_ID),
            "--provider",
            providerPointingAtTheFake().toString(),
            "-f",
            ProjectPaths.root().resolve("examples/hello-python.yaml").toString());

    assertThat(result.exit()).isEqualTo(RunCommand.EXIT_INVALID_OR_INFRASTRUCTURE);
    assertThat(result.err()).contains("CredentialsRejected").doesNotContain("wrong-secret-value");
    assertThat(fake.createdSandboxes()).isEmpty();
  }

  @Test
  void canaryTestsTheProviderEndToEndWithoutACluster() throws IOException {
    Map<String, String> credentials =
        Map.of(
            "SANDBOX_SECRET_ALIYUN_CREDENTIALS_ACCESSKEYID", FakeAgentRunServer.ACCESS_KEY_ID,
            "SANDBOX_SECRET_ALIYUN_CREDENTIALS_ACCESSKEYSECRET",
                FakeAgentRunServer.ACCESS_KEY_SECRET,
            "SANDBOX_SECRET_ALIYUN_CREDENTIALS_ACCOUNTID", FakeAgentRunServer.ACCOUNT_ID);

    Result passed =
        run(credentials, "--provider", providerPointingAtTheFake().toString(), "--canary");

    assertThat(passed.exit()).as(passed.err()).isZero();
    assertThat(passed.out())
        .contains("kind: SandboxProvider")
        .contains("type: CanaryPassed")
        .contains("reason: CanarySucceeded")
        .contains("latencyMillis:")
        .contains("reason: BackendReachable");
    assertThat(passed.err()).contains("Running the canary (python)").contains("ran end to end in");
    assertThat(fake.count("RunCommand")).isEqualTo(1);

    // Zero, not a short limit: a fast machine ran the canary within 100 ms and it passed.
    fake.gatewayTimeout(java.time.Duration.ZERO);
    Result failed =
        run(
            credentials,
            "--provider",
            providerPointingAtTheFake().toString(),
            "--canary",
            "-o",
            "json");
    assertThat(failed.exit()).isEqualTo(RunCommand.EXIT_INVALID_OR_INFRASTRUCTURE);
    assertThat(failed.out()).startsWith("{").contains("CanaryFailed").contains("it timed out");

    Result both =
        run(
            credentials,
            "--provider",
            providerPointingAtTheFake().toString(),
            "--canary",
            "-f",
            ProjectPaths.root().resolve("examples/hello-python.yaml").toString());
    assertThat(both.exit()).isEqualTo(RunCommand.EXIT_INVALID_OR_INFRASTRUCTURE);
    assertThat(both.err()).contains("--canary runs no CodeExecutions");
  }

  private Path providerPointingAtTheFake() throws IOException {
    String example =
        Files.readString(ProjectPaths.root().resolve("examples/providers/aliyun.yaml"));
    Path provider = dir.resolve("aliyun.yaml");
    Files.writeString(
        provider,
        example
            .replace(
                "    region: cn-hangzhou\n",
                "    region: cn-hangzhou\n    controlEndpoint: "
                    + fake.controlEndpoint()
                    + "\n    dataEndpoint: "
                    + fake.dataEndpoint()
                    + "\n")
            .replace("defaultTimeoutSeconds: 10", "defaultTimeoutSeconds: 30"));
    return provider;
  }

  /**
   * An example with AgentRun's longest time limit instead of its own 10 s: the limit is not what
   * these tests check, and a loaded machine can take seconds to start Python.
   */
  private Path example(String name) throws IOException {
    Path copy = dir.resolve(name);
    Files.writeString(
        copy,
        Files.readString(ProjectPaths.root().resolve("examples").resolve(name))
            .replace("timeoutSeconds: 10", "timeoutSeconds: 30"));
    return copy;
  }

  private record Result(int exit, String out, String err) {}

  private static Result run(Map<String, String> environment, String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    RunCommand command =
        new RunCommand(
            Backends.factory(),
            OperatorConfig.defaults(),
            environment,
            new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8),
            Clock.systemUTC());
    int exit = new CommandLine(command).execute(args);
    return new Result(
        exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }
}
