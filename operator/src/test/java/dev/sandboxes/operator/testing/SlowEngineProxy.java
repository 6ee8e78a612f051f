package dev.sandboxes.operator.testing;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A unix-socket proxy in front of a real Docker-API engine that can make the engine slow: while a
 * delay is set, every chunk the client sends (every request, and stdin) reaches the engine that
 * much later, as on a machine where the engine is starved of CPU. Answers are passed on at once.
 * Nothing leaves the machine: both ends are unix sockets.
 */
public final class SlowEngineProxy implements AutoCloseable {

  private final Path engineSocket;
  private final Path directory;
  private final Path socket;
  private final ServerSocketChannel server;
  private final List<SocketChannel> channels = new CopyOnWriteArrayList<>();
  private volatile Duration delay = Duration.ZERO;
  private volatile boolean closed;

  /** Listens on a new socket in a temporary directory and relays to the engine's socket. */
  public SlowEngineProxy(String engineHost) throws IOException {
    if (!engineHost.startsWith("unix://")) {
      throw new IllegalArgumentException("the proxy relays unix sockets only, not " + engineHost);
    }
    this.engineSocket = Path.of(engineHost.substring("unix://".length()));
    this.directory = Files.createTempDirectory("slow-engine");
    this.socket = directory.resolve("engine.sock");
    this.server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    server.bind(UnixDomainSocketAddress.of(socket));
    daemon("slow-engine-accept", this::acceptLoop).start();
  }

  /** The Docker host that reaches the engine through this proxy. */
  public String host() {
    return "unix://" + socket;
  }

  /** From now on every chunk sent to the engine waits this long first; zero turns it off. */
  public void delayEveryRequest(Duration delay) {
    this.delay = delay;
  }

  private void acceptLoop() {
    while (!closed) {
      SocketChannel client;
      try {
        client = server.accept();
      } catch (IOException e) {
        return; // closed
      }
      try {
        SocketChannel engine = SocketChannel.open(StandardProtocolFamily.UNIX);
        engine.connect(UnixDomainSocketAddress.of(engineSocket));
        channels.add(client);
        channels.add(engine);
        daemon("slow-engine-request", () -> relay(client, engine, true)).start();
        daemon("slow-engine-answer", () -> relay(engine, client, false)).start();
      } catch (IOException e) {
        closeQuietly(client);
      }
    }
  }

  private void relay(SocketChannel from, SocketChannel to, boolean delayed) {
    ByteBuffer buffer = ByteBuffer.allocate(64 * 1024);
    try {
      while (from.read(buffer) >= 0) {
        Duration wait = delay;
        if (delayed && !wait.isZero()) {
          Thread.sleep(wait.toMillis()); // the injected slowness, not synchronisation
        }
        buffer.flip();
        while (buffer.hasRemaining()) {
          to.write(buffer);
        }
        buffer.clear();
      }
      to.shutdownOutput();
    } catch (IOException | InterruptedException e) {
      closeQuietly(from);
      closeQuietly(to);
    }
  }

  @Override
  public void close() throws IOException {
    closed = true;
    server.close();
    channels.forEach(SlowEngineProxy::closeQuietly);
    Files.deleteIfExists(socket);
    Files.deleteIfExists(directory);
  }

  private static Thread daemon(String name, Runnable body) {
    Thread thread = new Thread(body, name);
    thread.setDaemon(true);
    return thread;
  }

  private static void closeQuietly(SocketChannel channel) {
    try {
      channel.close();
    } catch (IOException ignored) {
      // already gone
    }
  }
}
