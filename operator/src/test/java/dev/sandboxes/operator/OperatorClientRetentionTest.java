package dev.sandboxes.operator;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.http.HttpClient;
import java.io.OutputStream;
import java.lang.ref.WeakReference;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The operator's API client lets go of a response body once it was read. With a connect timeout the
 * JDK's HTTP client keeps the exchange that opened a pooled connection reachable, body and all, for
 * as long as the connection lives: on the informers' first list that was a 75 MiB page.
 */
@Tag("unit")
class OperatorClientRetentionTest {

  private static final int PAGE_BYTES = 8 << 20;

  private HttpServer server;

  @BeforeEach
  void serveALargePage() throws Exception {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    byte[] page = new byte[PAGE_BYTES];
    server.createContext(
        "/page",
        exchange -> {
          exchange.sendResponseHeaders(200, page.length);
          try (OutputStream body = exchange.getResponseBody()) {
            body.write(page);
          }
        });
    server.start();
  }

  @AfterEach
  void stop() {
    server.stop(0);
  }

  @Test
  void aPageThatOpenedTheConnectionIsNotKeptAliveByIt() throws Exception {
    String base = "http://127.0.0.1:" + server.getAddress().getPort();
    Config config =
        OperatorCommand.withoutConnectTimer(
            new ConfigBuilder(Config.empty()).withMasterUrl(base).build());
    try (KubernetesClient client = new KubernetesClientBuilder().withConfig(config).build()) {
      HttpClient http = client.getHttpClient();
      WeakReference<byte[]> firstPage = new WeakReference<>(fetch(http, base));
      fetch(http, base); // the connection is pooled and reused: it outlives the first exchange

      for (int i = 0; i < 20 && firstPage.get() != null; i++) {
        System.gc();
        Thread.sleep(50);
      }
      assertThat(firstPage.get())
          .as("the first page's body, still reachable after it was read")
          .isNull();
    }
  }

  private static byte[] fetch(HttpClient http, String base) throws Exception {
    byte[] body =
        http.sendAsync(http.newHttpRequestBuilder().uri(base + "/page").build(), byte[].class)
            .get()
            .body();
    assertThat(body).hasSize(PAGE_BYTES);
    return body;
  }
}
