package dev.sandboxes.operator.testing;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * A podman Docker-API service of the test's own, on its own socket, started the way a new user
 * would start one: with podman's default rlimits (nofile=1048576) instead of the project's
 * containers.conf. On a machine whose root lacks CAP_SYS_RESOURCE (this machine kind, see
 * docs/container-engine.md) every container start then fails in runc with "error setting rlimits".
 * {@link #healed()} restarts it on the same socket with the project's configuration, as a user who
 * fixed the file would. Shares the machine's image storage (the runtime image of
 * hack/sandbox-engine); never touches the shared services. Skipped where podman cannot be started.
 */
public final class BrokenPodmanService implements AutoCloseable {

  private final Path dir;
  private final Path socket;
  private Process process;

  private BrokenPodmanService(Path dir) {
    this.dir = dir;
    this.socket = dir.resolve("podman.sock");
  }

  /** Starts the service with podman's default rlimits; the test is skipped where it cannot run. */
  public static BrokenPodmanService start() {
    assumeTrue("root".equals(System.getProperty("user.name")), "starting podman needs root");
    assumeTrue(
        Files.isExecutable(Path.of("/usr/bin/podman")),
        "podman is not installed (hack/sandbox-engine up)");
    // Makes sure the runtime image exists in the shared storage (the shared services' own start).
    DockerEngines.host("runc");
    try {
      BrokenPodmanService service =
          new BrokenPodmanService(Files.createTempDirectory("broken-podman"));
      Path conf = service.dir.resolve("containers.conf");
      // The project's settings minus default_ulimits: cgroupfs and file events only because PID 1
      // is not systemd here (without them podman does not even start).
      Files.writeString(
          conf,
          """
          [engine]
          cgroup_manager = "cgroupfs"
          events_logger = "file"
          runtime = "runc"
          """);
      service.launch(conf);
      return service;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The Docker host to give a provider. */
  public String host() {
    return "unix://" + socket;
  }

  /**
   * Restarts the service on the same socket with the machine's containers.conf (default_ulimits
   * set).
   */
  public void healed() {
    stop();
    launch(null);
  }

  private void launch(Path conf) {
    try {
      Files.deleteIfExists(socket);
      ProcessBuilder builder =
          new ProcessBuilder("podman", "--runtime", "runc", "system", "service", "--time=0", host())
              .directory(dir.toFile())
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("podman.log").toFile()));
      if (conf != null) {
        builder.environment().put("CONTAINERS_CONF", conf.toString());
      }
      process = builder.start();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (System.nanoTime() < deadline && process.isAlive()) {
        if (pings()) {
          return;
        }
        Thread.sleep(200);
      }
      String log =
          Files.exists(dir.resolve("podman.log"))
              ? Files.readString(dir.resolve("podman.log"))
              : "";
      stop();
      assumeTrue(false, "the test's own podman service did not answer on " + socket + ": " + log);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private boolean pings() {
    if (!Files.exists(socket)) {
      return false;
    }
    try (SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      channel.connect(UnixDomainSocketAddress.of(socket));
      channel.write(
          ByteBuffer.wrap(
              "GET /_ping HTTP/1.0\r\nHost: d\r\n\r\n".getBytes(StandardCharsets.US_ASCII)));
      ByteBuffer answer = ByteBuffer.allocate(512);
      channel.read(answer);
      return new String(answer.array(), 0, answer.position(), StandardCharsets.US_ASCII)
          .startsWith("HTTP/1.");
    } catch (IOException e) {
      return false;
    }
  }

  /** Stops this service (its own process and children only). */
  private void stop() {
    if (process == null) {
      return;
    }
    ProcessHandle handle = process.toHandle();
    handle.descendants().forEach(ProcessHandle::destroy);
    handle.destroy();
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        handle.descendants().forEach(ProcessHandle::destroyForcibly);
        handle.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    process = null;
  }

  @Override
  public void close() {
    stop();
    try {
      Files.deleteIfExists(socket);
    } catch (IOException e) {
      // a temp directory; left for the OS
    }
  }
}
