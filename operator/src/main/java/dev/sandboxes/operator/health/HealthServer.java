package dev.sandboxes.operator.health;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.javaoperatorsdk.operator.Operator;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;
import java.util.function.BooleanSupplier;

/**
 * /healthz (the process serves and the operator was started), /readyz (every informer is healthy)
 * and /metrics (Prometheus text format) on one port.
 */
public final class HealthServer implements AutoCloseable {

  private final HttpServer server;

  public HealthServer(
      int port, Operator operator, PrometheusMeterRegistry metrics, BooleanSupplier stopping)
      throws IOException {
    server = HttpServer.create(new InetSocketAddress(port), 0);
    server.setExecutor(
        Executors.newFixedThreadPool(
            2,
            r -> {
              Thread thread = new Thread(r, "health-server");
              thread.setDaemon(true);
              return thread;
            }));
    server.createContext(
        "/healthz",
        exchange -> {
          boolean alive = operator.getRuntimeInfo().isStarted();
          respond(exchange, alive ? 200 : 503, alive ? "ok\n" : "starting\n", "text/plain");
        });
    server.createContext(
        "/readyz",
        exchange -> {
          var info = operator.getRuntimeInfo();
          if (stopping.getAsBoolean()) {
            respond(exchange, 503, "stopping\n", "text/plain");
          } else if (!info.isStarted()) {
            respond(exchange, 503, "starting\n", "text/plain");
          } else if (!info.allEventSourcesAreHealthy()) {
            respond(
                exchange,
                503,
                "unhealthy event sources: " + info.unhealthyEventSources().keySet() + "\n",
                "text/plain");
          } else {
            respond(exchange, 200, "ok\n", "text/plain");
          }
        });
    server.createContext(
        "/metrics",
        exchange ->
            respond(exchange, 200, metrics.scrape(), "text/plain; version=0.0.4; charset=utf-8"));
  }

  public HealthServer start() {
    server.start();
    return this;
  }

  public int port() {
    return server.getAddress().getPort();
  }

  private static void respond(HttpExchange exchange, int status, String body, String contentType)
      throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", contentType);
    exchange.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
