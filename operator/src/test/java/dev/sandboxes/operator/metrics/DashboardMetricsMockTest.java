package dev.sandboxes.operator.metrics;

import static dev.sandboxes.operator.testing.TestResources.aSecret;
import static dev.sandboxes.operator.testing.TestResources.aliyunSecret;
import static dev.sandboxes.operator.testing.TestResources.anAliyunProvider;
import static dev.sandboxes.operator.testing.TestResources.anE2bProvider;
import static dev.sandboxes.operator.testing.TestResources.anExecution;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionReason;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.operator.backend.SandboxBackendFactory;
import dev.sandboxes.operator.backend.aliyun.AgentRunTimings;
import dev.sandboxes.operator.backend.aliyun.AliyunSandboxBackend;
import dev.sandboxes.operator.backend.aliyun.AliyunSettings;
import dev.sandboxes.operator.backend.e2b.E2bSandboxBackend;
import dev.sandboxes.operator.backend.e2b.E2bTimings;
import dev.sandboxes.operator.health.HealthServer;
import dev.sandboxes.operator.testing.FakeAgentRunServer;
import dev.sandboxes.operator.testing.FakeE2bServer;
import dev.sandboxes.operator.testing.MetricsExposition;
import dev.sandboxes.operator.testing.MonitoringQueries;
import dev.sandboxes.operator.testing.OperatorMockTest;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Every metric the chart's dashboard and alerts query is served on /metrics by a real operator
 * (fabric8 CRUD mock as API server) whose real E2B and Aliyun backends talk to the fake services:
 * executions that succeed, fail in user code, lose their sandbox and are invalid; a provider whose
 * key is rejected; throttled calls. The faster twin of MonitoringE2E.
 */
@Tag("mock")
class DashboardMetricsMockTest extends OperatorMockTest {
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
  private static final E2bTimings E2B_TIMINGS =
      new E2bTimings(
          Duration.ofSeconds(30),
          Duration.ofSeconds(5),
          Duration.ofMillis(200),
          Duration.ofSeconds(1),
          Duration.ofMinutes(1));

  private final String e2bKey = FakeE2bServer.newApiKey();
  private FakeE2bServer e2b;
  private FakeAgentRunServer aliyun;
  private HealthServer health;

  @BeforeEach
  void start() throws Exception {
    e2b = new FakeE2bServer(e2bKey);
    aliyun = new FakeAgentRunServer();
    SandboxBackendFactory factory =
        new SandboxBackendFactory()
            .register(
                ProviderType.E2B,
                context -> new E2bSandboxBackend(context, e2b.sandboxUrl(), E2B_TIMINGS))
            .register(
                ProviderType.ALIYUN,
                context -> new AliyunSandboxBackend(context, ALIYUN_TIMINGS, Clock.systemUTC()));
    startOperator(factory);
    // Port 0: the HealthServer the `operator` command starts, on a free port.
    health =
        new HealthServer(0, operator.operator(), operator.meterRegistry(), operator::stopping)
            .start();
  }

  @AfterEach
  void stop() {
    try {
      health.close();
      stopOperator();
    } finally {
      e2b.close();
      aliyun.close();
    }
  }

  @Test
  void everyMetricTheDashboardAndTheAlertsQueryIsServedWithTheValuesTheRunsExplain()
      throws Exception {
    // Providers: two Ready, one whose key the service rejects.
    client.resource(aSecret(NAMESPACE, "e2b", "apiKey", e2bKey)).create();
    client.resource(aSecret(NAMESPACE, "e2b-wrong", "apiKey", FakeE2bServer.newApiKey())).create();
    client.resource(aliyunSecret(NAMESPACE)).create();
    client.resource(anE2bProvider(NAMESPACE, "e2b", e2b.apiUrl(), "e2b")).create();
    client.resource(anE2bProvider(NAMESPACE, "e2b-wrong", e2b.apiUrl(), "e2b-wrong")).create();
    client.resource(anAliyunProvider(NAMESPACE, "aliyun", aliyun)).create();
    awaitReady("e2b", "True");
    awaitReady("aliyun", "True");
    awaitReady("e2b-wrong", "False");

    // E2B: the first creation is refused with 429, then it runs.
    e2b.scriptCreates(
        FakeE2bServer.Scripted.json(429, "{\"code\":429,\"message\":\"rate limit exceeded\"}"));
    run("e2b-ok", "e2b", "def main(x):\n    return x\n", CodeExecutionReason.COMPLETED.value());

    // Aliyun: a throttled creation, then a success; code that raises; a sandbox that vanishes.
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> aliyun.templateExists(AliyunSettings.DEFAULT_TEMPLATE));
    aliyun.throttleNext("CreateSandbox", 1, 200);
    run(
        "aliyun-ok",
        "aliyun",
        "def main(x):\n    return x\n",
        CodeExecutionReason.COMPLETED.value());
    run(
        "aliyun-raises",
        "aliyun",
        "def main(x):\n    raise ValueError('no')\n",
        CodeExecutionReason.USER_CODE_ERROR.value());
    aliyun.vanishDuringNextCommand();
    run(
        "aliyun-vanishes",
        "aliyun",
        "def main(x):\n    return x\n",
        CodeExecutionReason.SANDBOX_FAILED.value());
    CodeExecution tooLong = anExecution(NAMESPACE, "invalid", "aliyun");
    tooLong.getSpec().setTimeoutSeconds(31); // AgentRun runs code for at most 30 s
    client.resource(tooLong).create();
    awaitOutcome("invalid", CodeExecutionReason.INVALID_SPEC.value());

    String scrape =
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + health.port() + "/metrics"))
                    .build(),
                HttpResponse.BodyHandlers.ofString())
            .body();

    List<MonitoringQueries.Query> queries = MonitoringQueries.all();
    assertThat(MonitoringQueries.unserved(queries, scrape))
        .as("metrics queried by the chart and not served")
        .isEmpty();
    assertThat(MonitoringQueries.metricNames(queries))
        .containsKeys(
            "sandbox_codeexecution_duration_seconds_bucket",
            "sandbox_codeexecution_queue_wait_seconds_bucket",
            "sandbox_codeexecution_phase_seconds_bucket",
            "sandbox_saas_requests_total",
            "sandbox_pool_starting",
            "sandbox_provider_not_ready_longest_seconds",
            "sandbox_codeexecution_waiting_oldest_seconds",
            "up");
    assertThat(MetricsExposition.parse(scrape).type("sandbox_codeexecution_duration_seconds"))
        .contains("histogram");

    // And the values are the ones these runs explain.
    assertThat(
            value(
                scrape,
                "sandbox_codeexecution_completed_total",
                "language=\"python\",outcome=\"Completed\",type=\"Aliyun\""))
        .isEqualTo(1);
    assertThat(
            value(
                scrape,
                "sandbox_codeexecution_completed_total",
                "language=\"python\",outcome=\"Completed\",type=\"E2B\""))
        .isEqualTo(1);
    assertThat(
            value(
                scrape,
                "sandbox_codeexecution_completed_total",
                "language=\"python\",outcome=\"UserCodeError\",type=\"Aliyun\""))
        .isEqualTo(1);
    assertThat(
            value(
                scrape,
                "sandbox_codeexecution_completed_total",
                "language=\"python\",outcome=\"SandboxFailed\",type=\"Aliyun\""))
        .isEqualTo(1);
    assertThat(
            value(
                scrape,
                "sandbox_codeexecution_completed_total",
                "language=\"python\",outcome=\"InvalidSpec\",type=\"unknown\""))
        .isEqualTo(1);
    assertThat(
            value(
                scrape,
                "sandbox_codeexecution_duration_seconds_count",
                "language=\"python\",outcome=\"Completed\",type=\"Aliyun\""))
        .isEqualTo(1);
    // Each of the three Aliyun executions that started went through each phase once.
    for (String phase : List.of("admit", "run", "record")) {
      assertThat(
              value(
                  scrape,
                  "sandbox_codeexecution_phase_seconds_count",
                  "phase=\"" + phase + "\",type=\"Aliyun\""))
          .as(phase)
          .isEqualTo(3);
    }
    assertThat(value(scrape, "sandbox_saas_requests_total", "outcome=\"Throttled\",type=\"E2B\""))
        .isGreaterThanOrEqualTo(1);
    assertThat(
            value(scrape, "sandbox_saas_requests_total", "outcome=\"Throttled\",type=\"Aliyun\""))
        .isGreaterThanOrEqualTo(1);
    assertThat(value(scrape, "sandbox_saas_requests_total", "outcome=\"Ok\",type=\"Aliyun\""))
        .isGreaterThan(3);
    // The rejected key: 401 answers to its probes.
    assertThat(value(scrape, "sandbox_saas_requests_total", "outcome=\"ClientError\",type=\"E2B\""))
        .isGreaterThanOrEqualTo(1);
    assertThat(value(scrape, "sandbox_provider_ready", "type=\"E2B\"")).isEqualTo(1);
    assertThat(value(scrape, "sandbox_provider_ready", "type=\"Aliyun\"")).isEqualTo(1);
    assertThat(value(scrape, "sandbox_provider_not_ready", "type=\"E2B\"")).isEqualTo(1);
    assertThat(value(scrape, "sandbox_provider_not_ready_longest_seconds", "type=\"E2B\""))
        .isGreaterThanOrEqualTo(0);
    assertThat(
            value(
                scrape,
                "sandbox_backend_errors_total",
                "reason=\"CredentialsRejected\",type=\"E2B\""))
        .isGreaterThanOrEqualTo(1);
    assertThat(
            value(
                scrape, "sandbox_backend_errors_total", "reason=\"SandboxFailed\",type=\"Aliyun\""))
        .isEqualTo(1);
    assertThat(
            value(scrape, "sandbox_codeexecution_waiting", "language=\"python\",type=\"Aliyun\""))
        .isZero();
    assertThat(scrape).doesNotContain("aliyun-ok").doesNotContain("e2b-wrong"); // no names in tags
  }

  private void run(String name, String provider, String code, String outcome) {
    CodeExecution cx = anExecution(NAMESPACE, name, provider);
    cx.getSpec().setCode(code);
    cx.getSpec().setArguments(Map.of("x", 1));
    client.resource(cx).create();
    awaitOutcome(name, outcome);
  }

  private void awaitOutcome(String name, String outcome) {
    await(name + " " + outcome)
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () -> {
              CodeExecution cx = get(name);
              assertThat(cx.getStatus()).isNotNull();
              assertThat(cx.getStatus().getCompletionTime())
                  .as(String.valueOf(cx.getStatus().getMessage()))
                  .isNotNull();
              assertThat(
                      Conditions.reason(cx.getStatus().getConditions(), ConditionTypes.SUCCEEDED))
                  .as(cx.getStatus().getMessage())
                  .isEqualTo(outcome);
            });
  }

  private void awaitReady(String provider, String status) {
    await(provider + " Ready=" + status)
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> {
              SandboxProvider p = provider(provider);
              assertThat(p.getStatus()).isNotNull();
              assertThat(
                      Conditions.get(p.getStatus().getConditions(), ConditionTypes.READY)
                          .map(c -> c.getStatus()))
                  .contains(status);
            });
  }

  /** The value of one sample, its labels in the order the exposition writes them (alphabetical). */
  private static double value(String scrape, String name, String labels) {
    Matcher m =
        Pattern.compile("(?m)^" + Pattern.quote(name + "{" + labels + "}") + " (\\S+)$")
            .matcher(scrape);
    assertThat(m.find()).as("%s{%s} in the scrape", name, labels).isTrue();
    return Double.parseDouble(m.group(1));
  }
}
