package dev.sandboxes.operator.testing;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The real Docker-API engines the tests use: podman services on one socket per OCI runtime, from
 * hack/sandbox-engine (environment.md: podman ignores HostConfig.Runtime, so the socket selects
 * it). Found through SANDBOX_DOCKER_HOST_RUNC / _RUNSC, else at the script's default paths; when
 * absent and the tests run as root, the script is run once to install and start them. Otherwise
 * the test is skipped with the reason.
 */
public final class DockerEngines {

  private static final Path DEFAULT_DIR = Path.of("/run/sandbox-operator/engine");
  private static final Map<String, String> HOSTS = new ConcurrentHashMap<>();
  private static volatile String setupFailure;
  private static volatile boolean setupTried;

  private DockerEngines() {}

  /** The Docker host for a runtime (runc or runsc), or the test is skipped saying why. */
  public static String host(String runtime) {
    String cached = HOSTS.get(runtime);
    if (cached != null) {
      return cached;
    }
    String fromEnv = System.getenv("SANDBOX_DOCKER_HOST_" + runtime.toUpperCase());
    if (fromEnv != null && !fromEnv.isBlank()) {
      HOSTS.put(runtime, fromEnv);
      return fromEnv;
    }
    Path socket = DEFAULT_DIR.resolve("podman-" + runtime + ".sock");
    if (!Files.exists(socket)) {
      startEngines();
    }
    assumeTrue(Files.exists(socket),
        "no podman " + runtime + " socket at " + socket + (setupFailure == null ? "" : ": " + setupFailure)
            + " (run hack/sandbox-engine up as root, or set SANDBOX_DOCKER_HOST_" + runtime.toUpperCase() + ")");
    String host = "unix://" + socket;
    HOSTS.put(runtime, host);
    return host;
  }

  private static synchronized void startEngines() {
    if (setupTried) {
      return;
    }
    setupTried = true;
    Path script = ProjectPaths.root().resolve("hack/sandbox-engine");
    if (!"root".equals(System.getProperty("user.name"))) {
      setupFailure = "starting podman needs root (this is " + System.getProperty("user.name") + ")";
      return;
    }
    if (!Files.isExecutable(script)) {
      setupFailure = script + " is missing";
      return;
    }
    try {
      Process process = new ProcessBuilder(script.toString(), "up").inheritIO().start();
      if (!process.waitFor(30, TimeUnit.MINUTES) || process.exitValue() != 0) {
        setupFailure = "hack/sandbox-engine up failed (see its output above)";
      }
    } catch (IOException e) {
      setupFailure = "hack/sandbox-engine up could not run: " + e.getMessage();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      setupFailure = "interrupted";
    }
  }
}
