package dev.sandboxes.operator.backend.e2b;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sandboxes.operator.backend.RunGuard;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.net.SelfSignedCertificate;
import java.io.InputStream;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The transport of envd's streams, chosen as the E2B SDKs choose it: HTTP/2 negotiated by ALPN over
 * TLS, HTTP/1.1 when the server offers only that, and HTTP/1.1 over plain http. The server is a
 * small envd stand-in on loopback that answers Start with Connect frames and SendInput with {} and
 * records the HTTP version of each request.
 */
@Tag("unit")
class EnvdHttp2Test {

  private Vertx vertx;
  private SelfSignedCertificate certificate;
  private final List<String> seen = new CopyOnWriteArrayList<>();

  @BeforeEach
  void start() {
    vertx = Vertx.vertx();
    certificate = SelfSignedCertificate.create("localhost");
  }

  @AfterEach
  void stop() throws Exception {
    certificate.delete();
    vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  @Test
  void overTlsStartAndSendInputTravelAsHttp2() throws Exception {
    HttpServer server =
        envd(
            new HttpServerOptions()
                .setSsl(true)
                .setUseAlpn(true)
                .setAlpnVersions(List.of(HttpVersion.HTTP_2, HttpVersion.HTTP_1_1))
                .setKeyCertOptions(certificate.keyCertOptions()));
    runOnce("https://localhost:" + server.actualPort());
    assertThat(seen)
        .containsExactly(
            "HTTP_2 /process.Process/Start token=token-1",
            "HTTP_2 /process.Process/SendInput token=token-1");
  }

  @Test
  void overTlsAServerWithoutHttp2GetsHttp11() throws Exception {
    HttpServer server =
        envd(
            new HttpServerOptions()
                .setSsl(true)
                .setUseAlpn(true)
                .setAlpnVersions(List.of(HttpVersion.HTTP_1_1))
                .setKeyCertOptions(certificate.keyCertOptions()));
    runOnce("https://localhost:" + server.actualPort());
    assertThat(seen)
        .containsExactly(
            "HTTP_1_1 /process.Process/Start token=token-1",
            "HTTP_1_1 /process.Process/SendInput token=token-1");
  }

  @Test
  void plainHttpStaysOnHttp11WithoutAnUpgradeAttempt() throws Exception {
    HttpServer server =
        envd(new HttpServerOptions().setHttp2ClearTextEnabled(true)); // it would accept h2c
    runOnce("http://localhost:" + server.actualPort());
    assertThat(seen)
        .containsExactly(
            "HTTP_1_1 /process.Process/Start token=token-1",
            "HTTP_1_1 /process.Process/SendInput token=token-1");
  }

  private void runOnce(String base) throws Exception {
    SSLContext tls = trusting(certificate.certificatePath());
    HttpClient http2 =
        HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).sslContext(tls).build();
    HttpClient http11 =
        HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).sslContext(tls).build();
    EnvdClient envd =
        new EnvdClient(
            EnvdClient.transportFor(base, http2, http11),
            base,
            "sbx-1",
            "token-1",
            null,
            Duration.ofSeconds(10),
            new Redactor("e2b_0123456789"));
    List<String> events = new CopyOnWriteArrayList<>();
    try (InputStream stream =
        envd.start(List.of("python3", "-c", "pass"), Duration.ofSeconds(5), RunGuard.never())) {
      ConnectFrames.Frame frame;
      while ((frame = ConnectFrames.read(stream)) != null) {
        events.add(
            (frame.endOfStream() ? "end-of-stream " : "")
                + new String(frame.message(), StandardCharsets.UTF_8));
        if (frame.message().length > 0
            && new String(frame.message(), StandardCharsets.UTF_8).contains("\"start\"")) {
          envd.sendStdin(7, "{}\n".getBytes(StandardCharsets.UTF_8), RunGuard.never());
        }
      }
    }
    assertThat(events).hasSize(4).last().isEqualTo("end-of-stream {}");
  }

  private HttpServer envd(HttpServerOptions options) throws Exception {
    return vertx
        .createHttpServer(options.setHost("127.0.0.1"))
        .requestHandler(
            request ->
                request
                    .body()
                    .onSuccess(
                        body -> {
                          seen.add(
                              request.version()
                                  + " "
                                  + request.path()
                                  + " token="
                                  + request.getHeader("X-Access-Token"));
                          if (request.path().equals("/process.Process/Start")) {
                            Buffer stream =
                                Buffer.buffer()
                                    .appendBuffer(frame(0, "{\"event\":{\"start\":{\"pid\":7}}}"))
                                    .appendBuffer(
                                        frame(0, "{\"event\":{\"data\":{\"stdout\":\"aGkK\"}}}"))
                                    .appendBuffer(
                                        frame(
                                            0,
                                            "{\"event\":{\"end\":{\"exited\":true,\"status\":\"exit status 0\"}}}"))
                                    .appendBuffer(frame(2, "{}"));
                            request
                                .response()
                                .putHeader("Content-Type", "application/connect+json")
                                .end(stream);
                          } else {
                            request
                                .response()
                                .putHeader("Content-Type", "application/json")
                                .end("{}");
                          }
                        }))
        .listen(0)
        .toCompletionStage()
        .toCompletableFuture()
        .get(30, TimeUnit.SECONDS);
  }

  private static SSLContext trusting(String certificatePem) throws Exception {
    KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
    trust.load(null, null);
    try (InputStream pem = Files.newInputStream(Path.of(certificatePem))) {
      trust.setCertificateEntry(
          "envd", CertificateFactory.getInstance("X.509").generateCertificate(pem));
    }
    TrustManagerFactory factory =
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    factory.init(trust);
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(null, factory.getTrustManagers(), null);
    return context;
  }

  private static Buffer frame(int flags, String json) {
    byte[] message = json.getBytes(StandardCharsets.UTF_8);
    return Buffer.buffer().appendByte((byte) flags).appendInt(message.length).appendBytes(message);
  }
}
