package dev.sandboxes.operator.backend.saas;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.sandboxes.operator.backend.RunGuard;
import dev.sandboxes.operator.provider.ServiceCallListener.Outcome;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The shared SaaS exchange against a scripted HTTP server on the loopback address: retries and
 * their backoff, the service's Retry-After, failures that are not retried, the bounds on time and
 * body, and the run's guard ending a call or a wait at once.
 */
@Tag("unit")
class SaasHttpTest {

  /** An answer the script gives: status, headers, body, and whether to hang instead. */
  private record Scripted(int status, Map<String, String> headers, String body, boolean hang) {}

  /** A service failure as a client would specialise it: 5xx and no answer are transient. */
  private static final class ServiceFailure extends SaasCallException {
    ServiceFailure(SaasReply reply) {
      super(
          "HTTP " + reply.status(),
          null,
          reply.status(),
          null,
          RetryAfter.of(reply.headers()),
          false);
    }

    @Override
    public boolean transientFailure() {
      return status() == 0 || status() >= 500;
    }
  }

  private final Deque<Scripted> script = new ArrayDeque<>();
  private final List<Long> arrivals = new CopyOnWriteArrayList<>();
  private final List<Outcome> outcomes = new CopyOnWriteArrayList<>();
  private final CountDownLatch release = new CountDownLatch(1);
  private final CountDownLatch arrived = new CountDownLatch(1);
  private ExecutorService handlers;
  private HttpServer server;
  private SaasHttp http;

  @BeforeEach
  void start() throws IOException {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    handlers = Executors.newCachedThreadPool();
    server.setExecutor(handlers);
    server.createContext("/", this::answer);
    server.start();
    http =
        new SaasHttp(
            SaasHttp.client(HttpClient.Version.HTTP_1_1, Duration.ofSeconds(2)),
            outcomes::add,
            reply -> Outcome.ofStatus(reply.status()));
  }

  @AfterEach
  void stop() {
    release.countDown();
    server.stop(0);
    handlers.shutdownNow();
  }

  // ---- retry and backoff ----

  @Test
  void theBackoffDoublesAndALongerHintWinsUpToTheLongestWait() {
    RetryPolicy uncapped = new RetryPolicy(4, Duration.ofMillis(100), null);
    assertThat(uncapped.delay(1, null)).isEqualTo(Duration.ofMillis(100));
    assertThat(uncapped.delay(2, null)).isEqualTo(Duration.ofMillis(200));
    assertThat(uncapped.delay(3, null)).isEqualTo(Duration.ofMillis(400));
    assertThat(uncapped.delay(1, Duration.ofSeconds(5))).isEqualTo(Duration.ofSeconds(5));
    assertThat(uncapped.delay(3, Duration.ofMillis(50))).isEqualTo(Duration.ofMillis(400));
    assertThat(uncapped.delay(200, null)).isPositive(); // no overflow however many retries
    RetryPolicy capped = new RetryPolicy(4, Duration.ofMillis(100), Duration.ofMillis(300));
    assertThat(capped.delay(3, null)).isEqualTo(Duration.ofMillis(300));
    assertThat(capped.delay(1, Duration.ofSeconds(5))).isEqualTo(Duration.ofMillis(300));
    assertThatThrownBy(() -> new RetryPolicy(0, Duration.ZERO, null))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("at least once");
  }

  @Test
  void retryAfterIsReadInSecondsAndOtherwiseIgnored() {
    assertThat(RetryAfter.of(headers(Map.of("Retry-After", " 3 "))))
        .isEqualTo(Duration.ofSeconds(3));
    assertThat(RetryAfter.of(headers(Map.of("Retry-After", "0")))).isNull();
    assertThat(RetryAfter.of(headers(Map.of("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT"))))
        .isNull();
    assertThat(RetryAfter.of(headers(Map.of()))).isNull();
  }

  @Test
  void aTransientFailureIsTriedAgainAfterTheBackoffAndTheLastFailureIsThrown() {
    script(503, Map.of(), "busy");
    script(503, Map.of(), "busy");
    script(503, Map.of(), "still busy");
    RetryPolicy policy = new RetryPolicy(3, Duration.ofMillis(100), null);
    assertThatThrownBy(
            () ->
                Retrying.call(
                    policy, ServiceFailure::transientFailure, RunGuard.never(), this::get))
        .isInstanceOf(ServiceFailure.class)
        .hasMessage("HTTP 503");
    assertThat(arrivals).hasSize(3);
    assertThat(gapMillis(0)).isGreaterThanOrEqualTo(100);
    assertThat(gapMillis(1)).isGreaterThanOrEqualTo(200);
    assertThat(outcomes)
        .containsExactly(Outcome.SERVER_ERROR, Outcome.SERVER_ERROR, Outcome.SERVER_ERROR);
  }

  @Test
  void aRetryWaitsAsLongAsTheServiceAsksWhenThatIsLonger() throws Exception {
    script(503, Map.of("Retry-After", "1"), "come back in a second");
    script(200, Map.of(), "done");
    RetryPolicy policy = new RetryPolicy(3, Duration.ofMillis(10), null);
    SaasReply reply =
        Retrying.call(policy, ServiceFailure::transientFailure, RunGuard.never(), this::get);
    assertThat(new String(reply.body(), StandardCharsets.UTF_8)).isEqualTo("done");
    assertThat(gapMillis(0)).isGreaterThanOrEqualTo(1000);
    assertThat(outcomes).containsExactly(Outcome.SERVER_ERROR, Outcome.OK);
  }

  @Test
  void aFailureTheClientDoesNotRetryIsThrownAfterOneTry() {
    script(400, Map.of(), "bad request");
    script(200, Map.of(), "never asked");
    RetryPolicy policy = new RetryPolicy(3, Duration.ofMillis(10), null);
    assertThatThrownBy(
            () ->
                Retrying.call(
                    policy, ServiceFailure::transientFailure, RunGuard.never(), this::get))
        .isInstanceOf(ServiceFailure.class)
        .hasMessage("HTTP 400");
    assertThat(arrivals).hasSize(1);
    assertThat(outcomes).containsExactly(Outcome.CLIENT_ERROR);
  }

  // ---- the run's guard ----

  @Test
  void aStopEndsACallInFlightAtOnceAndIsNotCountedAgainstTheService() throws Exception {
    scriptHang();
    RunGuard guard = new RunGuard();
    Thread stopper =
        new Thread(
            () -> {
              try {
                arrived.await(10, TimeUnit.SECONDS);
              } catch (InterruptedException e) {
                return;
              }
              guard.stop(RunGuard.Stop.CANCELLED);
            });
    stopper.start();
    long begun = System.nanoTime();
    assertThatThrownBy(() -> http.exchange(request(), Duration.ofSeconds(30), guard, 1024))
        .isInstanceOfSatisfying(
            RunGuard.StoppedException.class,
            e -> assertThat(e.stop()).isEqualTo(RunGuard.Stop.CANCELLED));
    assertThat(Duration.ofNanos(System.nanoTime() - begun)).isLessThan(Duration.ofSeconds(20));
    stopper.join();
    assertThat(outcomes).isEmpty();
  }

  @Test
  void aStopEndsTheWaitBeforeARetry() throws Exception {
    script(503, Map.of("Retry-After", "60"), "busy");
    script(200, Map.of(), "never asked");
    RunGuard guard = new RunGuard();
    Thread stopper =
        new Thread(
            () -> {
              try {
                arrived.await(10, TimeUnit.SECONDS);
                Thread.sleep(100);
              } catch (InterruptedException e) {
                return;
              }
              guard.stop(RunGuard.Stop.DEADLINE);
            });
    stopper.start();
    RetryPolicy policy = new RetryPolicy(3, Duration.ofMillis(10), null);
    assertThatThrownBy(
            () -> Retrying.call(policy, ServiceFailure::transientFailure, guard, this::get))
        .isInstanceOfSatisfying(
            RunGuard.StoppedException.class,
            e -> assertThat(e.stop()).isEqualTo(RunGuard.Stop.DEADLINE));
    stopper.join();
    assertThat(arrivals).hasSize(1);
  }

  @Test
  void aRunStoppedAlreadySendsNothing() {
    script(200, Map.of(), "never asked");
    RunGuard guard = new RunGuard();
    guard.stop(RunGuard.Stop.CANCELLED);
    assertThatThrownBy(() -> http.exchange(request(), Duration.ofSeconds(5), guard, 1024))
        .isInstanceOf(RunGuard.StoppedException.class);
    assertThat(arrivals).isEmpty();
    assertThat(outcomes).isEmpty();
  }

  // ---- bounds and no answer ----

  @Test
  void noCompleteAnswerWithinTheWaitIsTimedOutAndUnreachable() {
    scriptHang();
    assertThatThrownBy(
            () -> http.exchange(request(), Duration.ofMillis(300), RunGuard.never(), 1024))
        .isInstanceOfSatisfying(
            NoAnswer.class,
            e -> {
              assertThat(e.kind()).isEqualTo(NoAnswer.Kind.TIMED_OUT);
              assertThat(e.notSent()).isFalse();
            });
    assertThat(outcomes).containsExactly(Outcome.UNREACHABLE);
  }

  @Test
  void aBodyOverTheBoundIsDroppedAndCountedAsAServerError() {
    script(200, Map.of(), "x".repeat(100));
    assertThatThrownBy(() -> http.exchange(request(), Duration.ofSeconds(5), RunGuard.never(), 10))
        .isInstanceOfSatisfying(
            NoAnswer.class, e -> assertThat(e.kind()).isEqualTo(NoAnswer.Kind.TOO_LARGE));
    assertThat(outcomes).containsExactly(Outcome.SERVER_ERROR);
  }

  @Test
  void aRefusedConnectionIsKnownNotToHaveBeenSent() throws Exception {
    int closedPort;
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      closedPort = socket.getLocalPort();
    }
    HttpRequest refused =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + closedPort + "/")).GET().build();
    assertThatThrownBy(() -> http.exchange(refused, Duration.ofSeconds(5), RunGuard.never(), 1024))
        .isInstanceOfSatisfying(
            NoAnswer.class,
            e -> {
              assertThat(e.kind()).isEqualTo(NoAnswer.Kind.FAILED);
              assertThat(e.notSent()).isTrue();
            });
    assertThat(outcomes).containsExactly(Outcome.UNREACHABLE);
  }

  @Test
  void anOpenedResponseStreamsItsBodyAndIsCountedByStatus() throws Exception {
    script(404, Map.of(), "no such sandbox");
    HttpResponse<InputStream> response =
        http.open(request(), Duration.ofSeconds(5), RunGuard.never());
    try (InputStream body = response.body()) {
      assertThat(new String(body.readAllBytes(), StandardCharsets.UTF_8))
          .isEqualTo("no such sandbox");
    }
    assertThat(response.statusCode()).isEqualTo(404);
    assertThat(outcomes).containsExactly(Outcome.NOT_FOUND);
  }

  // ---- helpers ----

  /** One try as a client makes it: an answer that is not 2xx is thrown as the client's failure. */
  private SaasReply get() throws ServiceFailure, RunGuard.StoppedException {
    try {
      SaasReply reply = http.exchange(request(), Duration.ofSeconds(5), RunGuard.never(), 1024);
      if (!reply.ok()) {
        throw new ServiceFailure(reply);
      }
      return reply;
    } catch (NoAnswer e) {
      throw new ServiceFailure(new SaasReply(0, headers(Map.of()), new byte[0]));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new RunGuard.StoppedException(RunGuard.Stop.CANCELLED);
    }
  }

  private HttpRequest request() {
    InetSocketAddress address = server.getAddress();
    return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + address.getPort() + "/call"))
        .GET()
        .build();
  }

  private synchronized void script(int status, Map<String, String> headers, String body) {
    script.add(new Scripted(status, headers, body, false));
  }

  private synchronized void scriptHang() {
    script.add(new Scripted(0, Map.of(), "", true));
  }

  private synchronized Scripted next() {
    Scripted next = script.poll();
    return next == null ? new Scripted(500, Map.of(), "the script ran out", false) : next;
  }

  private void answer(HttpExchange exchange) throws IOException {
    arrivals.add(System.nanoTime());
    Scripted scripted = next();
    arrived.countDown();
    try (exchange) {
      exchange.getRequestBody().readAllBytes();
      if (scripted.hang()) {
        try {
          release.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        return;
      }
      byte[] body = scripted.body().getBytes(StandardCharsets.UTF_8);
      scripted.headers().forEach(exchange.getResponseHeaders()::add);
      exchange.sendResponseHeaders(scripted.status(), body.length);
      exchange.getResponseBody().write(body);
    }
  }

  private long gapMillis(int index) {
    return TimeUnit.NANOSECONDS.toMillis(arrivals.get(index + 1) - arrivals.get(index));
  }

  private static HttpHeaders headers(Map<String, String> values) {
    Map<String, List<String>> map = new java.util.HashMap<>();
    values.forEach((name, value) -> map.put(name, List.of(value)));
    return HttpHeaders.of(map, (name, value) -> true);
  }
}
