package dev.sandboxes.operator.testing;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sandboxes.api.ApiConstants;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.URLEncoder;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
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

  /** The provider name the tests give their backends: this service removes its containers. */
  public static final String PROVIDER = "broken-podman";

  /** How long close() lets the backend's own removals (handed over at its close) finish. */
  private static final long REMOVALS_WAIT_SECONDS = 30;

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
    try {
      return exchange("GET", "/_ping").startsWith("HTTP/1.");
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

  /**
   * Waits for the containers of {@link #PROVIDER} to go, then removes what is left, before the
   * service stops. A backend's close hands removals and container starts under way to background
   * threads; stopped in the middle of one, the service left a `sleep infinity` container running
   * under its conmon (which is no child of this process) in 2 of 10 hunt runs. Only this provider's
   * containers: the image storage is shared with the machine's engines.
   */
  private void removeContainers() {
    if (process == null || !process.isAlive()) {
      return;
    }
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(REMOVALS_WAIT_SECONDS);
      List<String> left = containers();
      while (!left.isEmpty() && System.nanoTime() < deadline) {
        Thread.sleep(250);
        left = containers();
      }
      for (String id : left) {
        request("DELETE", "/v1.41/containers/" + id + "?force=true");
      }
    } catch (IOException e) {
      System.err.println("removing the test service's containers failed: " + e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private List<String> containers() throws IOException {
    String filter =
        URLEncoder.encode(
            "{\"label\":[\"" + ApiConstants.PROVIDER_LABEL + "=" + PROVIDER + "\"]}",
            StandardCharsets.UTF_8);
    String body = request("GET", "/v1.41/containers/json?all=true&filters=" + filter);
    List<String> ids = new ArrayList<>();
    new ObjectMapper().readTree(body).forEach(container -> ids.add(container.get("Id").asText()));
    return ids;
  }

  /** One HTTP/1.0 request on the service's socket; the body of a 2xx answer. */
  private String request(String method, String path) throws IOException {
    String text = exchange(method, path);
    int headersEnd = text.indexOf("\r\n\r\n");
    String status = headersEnd < 0 ? text : text.substring(0, text.indexOf('\r'));
    if (headersEnd < 0 || !status.matches("HTTP/1\\.[01] 2\\d\\d.*")) {
      throw new IOException(method + " " + path + ": " + status);
    }
    return text.substring(headersEnd + 4);
  }

  /**
   * One HTTP/1.0 exchange on the service's socket: the whole answer, headers included (the service
   * closes the connection after it).
   */
  private String exchange(String method, String path) throws IOException {
    try (SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      channel.connect(UnixDomainSocketAddress.of(socket));
      channel.write(
          ByteBuffer.wrap(
              (method + " " + path + " HTTP/1.0\r\nHost: d\r\n\r\n")
                  .getBytes(StandardCharsets.US_ASCII)));
      ByteArrayOutputStream answer = new ByteArrayOutputStream();
      ByteBuffer buffer = ByteBuffer.allocate(8192);
      while (channel.read(buffer) >= 0) {
        answer.write(buffer.array(), 0, buffer.position());
        buffer.clear();
      }
      return answer.toString(StandardCharsets.UTF_8);
    }
  }

  @Override
  public void close() {
    removeContainers();
    stop();
    try {
      Files.deleteIfExists(socket);
    } catch (IOException e) {
      // a temp directory; left for the OS
    }
  }
}
