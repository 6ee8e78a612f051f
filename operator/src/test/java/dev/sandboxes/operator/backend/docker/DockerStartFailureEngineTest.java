package dev.sandboxes.operator.backend.docker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.sandboxes.api.v1alpha1.DockerSpec;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.api.v1alpha1.SandboxProviderReason;
import dev.sandboxes.api.v1alpha1.SandboxProviderSpec;
import dev.sandboxes.operator.backend.ProbeResult;
import dev.sandboxes.operator.backend.SandboxBackendFactory;
import dev.sandboxes.operator.backend.StartFailure;
import dev.sandboxes.operator.cli.RunCommand;
import dev.sandboxes.operator.config.OperatorConfig;
import dev.sandboxes.operator.provider.BackendContext;
import dev.sandboxes.operator.provider.ProviderSettings;
import dev.sandboxes.operator.testing.BrokenPodmanService;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Issue 19 on a real engine: a podman service started without the project's containers.conf, so
 * that runc fails every container with "error setting rlimits" (the test's own service, on its own
 * socket; see {@link BrokenPodmanService}). The provider must say so, with the engine's own words
 * and what to check, become Ready again once the service is fixed, and `run` must give up within
 * seconds instead of minutes.
 */
@Tag("engine")
class DockerStartFailureEngineTest {

  private static final String ENGINE_ERROR = "error setting rlimits";

  @Test
  void
      aServiceWithPodmansDefaultRlimitsMakesTheProviderNotReadyWithTheEnginesErrorUntilItIsFixed() {
    try (BrokenPodmanService engine = BrokenPodmanService.start();
        DockerSandboxBackend backend = backend(engine.host())) {
      ProbeResult first =
          backend.startIfReady(backend.probe()); // the engine answers; the pools start (and fail)
      assertThat(first.reason())
          .isIn(
              SandboxProviderReason.BACKEND_REACHABLE, SandboxProviderReason.SANDBOX_START_FAILING);
      long started = System.nanoTime();
      StartFailure failure =
          await("the backend gives up on starting containers")
              .atMost(Duration.ofSeconds(60))
              .until(backend::startFailure, Optional::isPresent)
              .get();
      System.out.printf(
          "Docker: start failures detected %d ms after the pools started%n",
          (System.nanoTime() - started) / 1_000_000);
      assertThat(failure.reason()).isEqualTo(SandboxProviderReason.SANDBOX_START_FAILING);
      assertThat(failure.error()).contains(ENGINE_ERROR).contains("operation not permitted");
      assertThat(failure.hint())
          .contains("containers.conf")
          .contains("default_ulimits")
          .contains("docs/container-engine.md");

      ProbeResult failing = backend.startIfReady(backend.probe());
      assertThat(failing.ready()).isFalse();
      assertThat(failing.reason()).isEqualTo(SandboxProviderReason.SANDBOX_START_FAILING);
      assertThat(failing.message())
          .contains(ENGINE_ERROR)
          .contains("containers.conf")
          .contains(engine.host());
      assertThat(backend.tryAcquire(Language.PYTHON)).isEmpty();

      // Fixed (the service restarted with default_ulimits): the pool's next retry succeeds, and
      // with it the provider, without anyone touching it.
      engine.healed();
      await("the provider recovers by itself")
          .atMost(Duration.ofSeconds(120))
          .pollInterval(Duration.ofMillis(500))
          .until(() -> backend.startIfReady(backend.probe()).ready());
      assertThat(backend.startFailure()).isEmpty();
      await()
          .atMost(Duration.ofSeconds(60))
          .until(() -> backend.tryAcquire(Language.PYTHON), Optional::isPresent)
          .get()
          .release();
    }
  }

  @Test
  void runGivesUpAfterAFewIdenticalStartFailuresWithTheEnginesMessageAndWhatToCheck(
      @TempDir Path dir) throws Exception {
    try (BrokenPodmanService engine = BrokenPodmanService.start()) {
      Path provider = dir.resolve("provider.yaml");
      Files.writeString(
          provider,
          """
          apiVersion: sandboxes.dev/v1alpha1
          kind: SandboxProvider
          metadata: {name: %s}
          spec:
            type: Docker
            runtimes: [{language: python, image: localhost/sandbox-runtime:v1}]
            docker: {host: "%s", runtime: runc, poolSize: 1}
          """
              .formatted(BrokenPodmanService.PROVIDER, engine.host()));
      Path execution = dir.resolve("cx.yaml");
      Files.writeString(
          execution,
          """
          apiVersion: sandboxes.dev/v1alpha1
          kind: CodeExecution
          metadata: {name: hello}
          spec: {language: python, code: "def main():\\n    return 1\\n"}
          """);
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      ByteArrayOutputStream err = new ByteArrayOutputStream();
      SandboxBackendFactory factory =
          new SandboxBackendFactory().register(ProviderType.DOCKER, DockerSandboxBackend::new);
      RunCommand command =
          new RunCommand(
              factory,
              OperatorConfig.defaults(),
              Map.of(),
              new PrintStream(out, true, StandardCharsets.UTF_8),
              new PrintStream(err, true, StandardCharsets.UTF_8),
              Clock.systemUTC());
      long started = System.nanoTime();
      int exit =
          new CommandLine(command)
              .execute("--provider", provider.toString(), "-f", execution.toString(), "-o", "json");
      long millis = (System.nanoTime() - started) / 1_000_000;
      String stderr = err.toString(StandardCharsets.UTF_8);
      System.out.printf(
          "run against a podman service with default rlimits: exit %d after %d ms%n", exit, millis);
      assertThat(exit).as(stderr).isEqualTo(RunCommand.EXIT_INVALID_OR_INFRASTRUCTURE);
      assertThat(stderr)
          .contains("error: SandboxProvider broken-podman: sandboxes fail to start")
          .contains(ENGINE_ERROR);
      assertThat(stderr)
          .containsPattern("(?m)^check: .*containers\\.conf.*docs/container-engine\\.md");
      String printed = out.toString(StandardCharsets.UTF_8);
      assertThat(printed)
          .contains("\"reason\" : \"SandboxFailed\"")
          .contains(ENGINE_ERROR)
          .contains("The code did not run")
          .doesNotContain("SandboxAssigned");
      // Not the 5 minutes of issue 19: the bound is loose on purpose (a busy machine), the figure
      // is printed.
      assertThat(millis).isLessThan(Duration.ofSeconds(90).toMillis());
    }
  }

  private static DockerSandboxBackend backend(String host) {
    SandboxProviderSpec spec = new SandboxProviderSpec();
    spec.setType(ProviderType.DOCKER);
    DockerSpec docker = new DockerSpec();
    docker.setHost(host);
    docker.setRuntime("runc");
    docker.setPoolSize(1);
    spec.setDocker(docker);
    SandboxProvider provider = new SandboxProvider();
    provider.setMetadata(
        new ObjectMetaBuilder()
            .withNamespace("test")
            .withName(BrokenPodmanService.PROVIDER)
            .build());
    provider.setSpec(spec);
    OperatorConfig config = OperatorConfig.defaults();
    return new DockerSandboxBackend(
        new BackendContext(
            "start-failure-" + UUID.randomUUID(),
            ProviderSettings.of(provider, config),
            spec,
            Map.of(),
            config,
            null));
  }
}
