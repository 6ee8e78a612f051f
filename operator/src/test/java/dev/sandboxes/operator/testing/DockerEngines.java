package dev.sandboxes.operator.testing;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * The real Docker-API engines the tests use: podman services on one socket per OCI runtime, from
 * hack/sandbox-engine (docs/container-engine.md: podman ignores HostConfig.Runtime, so the socket
 * selects it). Found through SANDBOX_DOCKER_HOST_RUNC / _RUNSC, else at the script's default paths;
 * when a socket is absent and the tests run as root, the script starts the services (again: on a
 * shared machine someone else's run may have stopped them since), but installs nothing: a test run
 * never installs packages ({@code SANDBOX_ENGINE_NO_INSTALL=1}; hack/test installs them before
 * Maven starts). Otherwise the test is skipped with the reason.
 */
public final class DockerEngines {

  private static final Path DEFAULT_DIR = Path.of("/run/sandbox-operator/engine");

  /** After a failed start, how long before another test may try again. */
  private static final long RETRY_AFTER_NANOS = TimeUnit.MINUTES.toNanos(5);

  private static volatile String setupFailure;
  private static long lastFailedStart;

  private DockerEngines() {}

  /** The Docker host for a runtime (runc or runsc), or the test is skipped saying why. */
  public static String host(String runtime) {
    String fromEnv = System.getenv("SANDBOX_DOCKER_HOST_" + runtime.toUpperCase());
    String host =
        fromEnv != null && !fromEnv.isBlank()
            ? fromEnv
            : "unix://" + DEFAULT_DIR.resolve("podman-" + runtime + ".sock");
    if (!host.startsWith("unix://")) {
      return host; // a remote engine: nothing to start here
    }
    Path socket = Path.of(host.substring("unix://".length()));
    if (!Files.exists(socket)) {
      startEngines();
    }
    assumeTrue(
        Files.exists(socket),
        "no podman "
            + runtime
            + " socket at "
            + socket
            + (setupFailure == null ? "" : ": " + setupFailure)
            + " (run hack/sandbox-engine up as root, or set SANDBOX_DOCKER_HOST_"
            + runtime.toUpperCase()
            + ")");
    return host;
  }

  private static synchronized void startEngines() {
    if (setupFailure != null && System.nanoTime() - lastFailedStart < RETRY_AFTER_NANOS) {
      return;
    }
    setupFailure = null;
    Path script = ProjectPaths.root().resolve("hack/sandbox-engine");
    if (!"root".equals(System.getProperty("user.name"))) {
      fail("starting podman needs root (this is " + System.getProperty("user.name") + ")");
      return;
    }
    if (!Files.isExecutable(script)) {
      fail(script + " is missing");
      return;
    }
    try {
      ProcessBuilder builder = new ProcessBuilder(script.toString(), "up").inheritIO();
      builder.environment().put("SANDBOX_ENGINE_NO_INSTALL", "1");
      Process process = builder.start();
      if (!process.waitFor(30, TimeUnit.MINUTES) || process.exitValue() != 0) {
        fail("hack/sandbox-engine up failed (see its output above)");
      }
    } catch (IOException e) {
      fail("hack/sandbox-engine up could not run: " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      fail("interrupted");
    }
  }

  private static void fail(String why) {
    setupFailure = why;
    lastFailedStart = System.nanoTime();
  }
}
