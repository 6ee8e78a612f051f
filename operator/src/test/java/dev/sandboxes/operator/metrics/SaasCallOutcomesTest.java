package dev.sandboxes.operator.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.operator.backend.aliyun.AgentRunTimings;
import dev.sandboxes.operator.backend.aliyun.AliyunSandboxBackend;
import dev.sandboxes.operator.backend.e2b.E2bSandboxBackend;
import dev.sandboxes.operator.backend.e2b.E2bTimings;
import dev.sandboxes.operator.config.OperatorConfig;
import dev.sandboxes.operator.provider.BackendContext;
import dev.sandboxes.operator.provider.ProviderSettings;
import dev.sandboxes.operator.provider.ServiceCallListener.Outcome;
import dev.sandboxes.operator.testing.FakeAgentRunServer;
import dev.sandboxes.operator.testing.FakeE2bServer;
import dev.sandboxes.operator.testing.FakeE2bServer.Scripted;
import dev.sandboxes.operator.testing.TestResources;
import java.io.IOException;
import java.net.ServerSocket;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * How the SaaS backends classify each call for sandbox_saas_requests_total, against the fake
 * services: throttling as each service signals it, server and client errors, no answer.
 */
@Tag("unit")
class SaasCallOutcomesTest {

  private static final E2bTimings E2B_TIMINGS =
      new E2bTimings(
          Duration.ofSeconds(5),
          Duration.ofSeconds(2),
          Duration.ofMillis(200),
          Duration.ofSeconds(1),
          Duration.ofSeconds(20));
  private static final AgentRunTimings ALIYUN_TIMINGS =
      new AgentRunTimings(
          Duration.ofSeconds(5),
          3,
          Duration.ofMillis(50),
          Duration.ofSeconds(20),
          Duration.ofMillis(500),
          Duration.ofSeconds(2),
          Duration.ofSeconds(10),
          Duration.ofMillis(50),
          Duration.ofSeconds(2),
          300,
          Duration.ofHours(1),
          Duration.ofMinutes(10),
          64L * 1024 * 1024);

  private final List<Outcome> calls = new CopyOnWriteArrayList<>();
  private final List<AutoCloseable> closeables = new CopyOnWriteArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (AutoCloseable closeable : closeables) {
      closeable.close();
    }
  }

  @Test
  void e2bCountsCapacityRefusalsAsThrottledAndErrorsByStatus() throws IOException {
    String key = FakeE2bServer.newApiKey();
    FakeE2bServer fake = new FakeE2bServer(key);
    closeables.add(fake::close);
    E2bSandboxBackend backend = e2b(fake.apiUrl(), fake.sandboxUrl(), key);
    fake.scriptProbes(
        Scripted.json(
            503,
            "{\"code\":503,\"error_code\":\"sandbox_capacity_unavailable\",\"message\":\"no capacity\"}"),
        Scripted.json(429, "{\"code\":429,\"message\":\"rate limit\"}"),
        Scripted.json(500, "{\"code\":500,\"message\":\"boom\"}"),
        Scripted.json(400, "{\"code\":400,\"message\":\"bad\"}"),
        // A service without the v2 listing: 404, then the older listing answers.
        Scripted.json(404, "{\"code\":404,\"message\":\"not found\"}"));
    for (int i = 0; i < 6; i++) {
      backend.startIfReady(backend.probe());
    }
    assertThat(calls)
        .containsExactly(
            Outcome.THROTTLED,
            Outcome.THROTTLED,
            Outcome.SERVER_ERROR,
            Outcome.CLIENT_ERROR,
            Outcome.NOT_FOUND,
            Outcome.OK,
            Outcome.OK);
  }

  @Test
  void e2bCountsACallWithoutAnAnswerAsUnreachable() throws IOException {
    E2bSandboxBackend backend =
        e2b("http://127.0.0.1:" + closedPort(), "http://127.0.0.1:" + closedPort(), "k");
    backend.startIfReady(backend.probe());
    assertThat(calls).containsExactly(Outcome.UNREACHABLE);
  }

  @Test
  void aliyunCountsThrottlingCodesAsThrottledAndGatewayErrorsAsServerErrors() {
    FakeAgentRunServer fake = new FakeAgentRunServer();
    closeables.add(fake::close);
    AliyunSandboxBackend backend = aliyun(fake);
    // AgentRun's flow control answers 400 with a Throttling.* code (no 429).
    fake.failNext(
        "ListTemplates", 1, 400, "Throttling.User", "Request was denied due to user flow control.");
    backend.startIfReady(backend.probe());
    // The probe goes on creating the template after it returns: read copies, and wait for them.
    await()
        .untilAsserted(
            () -> {
              List<Outcome> seen = List.copyOf(calls);
              assertThat(seen.get(0)).isEqualTo(Outcome.THROTTLED);
              // Then the probe looks for the default template, which does not exist yet, and
              // creates it.
              assertThat(seen.subList(1, seen.size()))
                  .startsWith(Outcome.NOT_FOUND)
                  .contains(Outcome.OK)
                  .doesNotContain(Outcome.THROTTLED, Outcome.CLIENT_ERROR, Outcome.SERVER_ERROR);
            });

    calls.clear();
    fake.gatewayErrorNext("ListTemplates", 1, 502); // retried: a transient failure
    backend.startIfReady(backend.probe());
    // The probe makes other calls too: the failed call counts once as a server error, its retry as
    // Ok.
    await()
        .untilAsserted(
            () ->
                assertThat(List.copyOf(calls))
                    .containsSubsequence(Outcome.SERVER_ERROR, Outcome.OK)
                    .doesNotContain(Outcome.THROTTLED, Outcome.CLIENT_ERROR)
                    .filteredOn(Outcome.SERVER_ERROR::equals)
                    .hasSize(1));

    calls.clear();
    fake.failNext("ListTemplates", 1, 403, "Forbidden.RAM", "not allowed");
    backend.startIfReady(backend.probe());
    assertThat(List.copyOf(calls))
        .contains(Outcome.CLIENT_ERROR)
        .doesNotContain(Outcome.THROTTLED, Outcome.SERVER_ERROR)
        .filteredOn(Outcome.CLIENT_ERROR::equals)
        .hasSize(1);
  }

  private E2bSandboxBackend e2b(String apiUrl, String sandboxUrl, String key) {
    SandboxProvider provider = TestResources.anE2bProvider("ns", "e2b", apiUrl, "e2b");
    E2bSandboxBackend backend =
        new E2bSandboxBackend(
            context(provider, Map.of("e2b", Map.of("apiKey", key))), sandboxUrl, E2B_TIMINGS);
    closeables.add(backend);
    return backend;
  }

  private AliyunSandboxBackend aliyun(FakeAgentRunServer fake) {
    SandboxProvider provider = TestResources.anAliyunProvider("ns", "aliyun", fake);
    AliyunSandboxBackend backend =
        new AliyunSandboxBackend(
            context(
                provider,
                Map.of(
                    TestResources.ALIYUN_SECRET,
                    TestResources.aliyunCredentials(
                        FakeAgentRunServer.ACCESS_KEY_ID, FakeAgentRunServer.ACCESS_KEY_SECRET))),
            ALIYUN_TIMINGS,
            Clock.systemUTC());
    closeables.add(backend);
    return backend;
  }

  private BackendContext context(
      SandboxProvider provider, Map<String, Map<String, String>> secrets) {
    provider.getMetadata().setUid("provider-uid");
    OperatorConfig config = OperatorConfig.defaults();
    return new BackendContext(
        "provider-uid",
        ProviderSettings.of(provider, config),
        provider.getSpec(),
        secrets,
        config,
        null,
        () -> {},
        calls::add);
  }

  /** A loopback port nothing listens on (bound, then released). */
  private static int closedPort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }
}
