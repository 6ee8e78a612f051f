package dev.sandboxes.operator.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionReason;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.operator.SandboxOperator;
import dev.sandboxes.operator.health.HealthServer;
import dev.sandboxes.operator.testing.MonitoringQueries;
import dev.sandboxes.operator.testing.TestResources;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The chart's dashboard and alerts against an operator running on the real cluster: every metric
 * their PromQL names is on the operator's /metrics (served by its HealthServer) once it has run
 * SelfManaged executions in real pods (one succeeds, one fails in user code, one is invalid, one
 * waits for a pod) and probed a provider whose RuntimeClass is missing; and the pool, queue and
 * provider gauges move as those pods and providers do.
 */
@Tag("e2e")
class MonitoringE2E {

  private static final String POOL = "pool";
  private static final String BROKEN = "no-runtime-class";
  private static E2eCluster cluster;
  private static SandboxOperator operator;
  private static HealthServer health;

  @BeforeAll
  static void start() throws IOException {
    cluster = E2eCluster.open("monitoring");
    operator = cluster.startOperator();
    health =
        new HealthServer(0, operator.operator(), operator.meterRegistry(), operator::stopping)
            .start();
  }

  @AfterAll
  static void stop() {
    if (health != null) {
      health.close();
    }
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  void everyQueriedMetricIsServedAndTheGaugesFollowPodsQueueAndProviders() throws Exception {
    // A pool of one pod: pods first show as starting, then as idle.
    cluster.create(provider(POOL, "gvisor"));
    await("a starting sandbox pod in the metrics")
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(100))
        .until(
            () -> gauge("sandbox_pool_starting", "language=\"python\",type=\"SelfManaged\"") >= 1);
    cluster.awaitReady(POOL);
    await("an idle sandbox pod in the metrics")
        .atMost(Duration.ofSeconds(90))
        .until(() -> gauge("sandbox_pool_ready", "language=\"python\",type=\"SelfManaged\"") >= 1);

    // A provider whose RuntimeClass does not exist: its probe fails.
    cluster.create(provider(BROKEN, E2eCluster.UNINSTALLED_RUNTIME_CLASS));
    await("provider " + BROKEN + " not Ready")
        .atMost(Duration.ofSeconds(60))
        .until(
            () -> {
              SandboxProvider p = cluster.provider(BROKEN);
              return p != null
                  && p.getStatus() != null
                  && Conditions.isFalse(p.getStatus().getConditions(), ConditionTypes.READY);
            });

    // Two executions at once on a pool of one: the second waits for a new pod.
    AtomicBoolean sawWaiting = new AtomicBoolean();
    cluster.create(
        execution("sleeps", "import time\ndef main(x):\n    time.sleep(3)\n    return x\n"));
    cluster.create(execution("raises", "def main(x):\n    raise ValueError('no')\n"));
    await("both finished")
        .atMost(Duration.ofMinutes(2))
        .pollInterval(Duration.ofMillis(100))
        .until(
            () -> {
              if (gauge("sandbox_codeexecution_waiting", "language=\"python\",type=\"SelfManaged\"")
                  >= 1) {
                sawWaiting.set(true);
              }
              return finished("sleeps") && finished("raises");
            });
    assertThat(reason("sleeps")).isEqualTo(CodeExecutionReason.COMPLETED.value());
    assertThat(reason("raises")).isEqualTo(CodeExecutionReason.USER_CODE_ERROR.value());
    CodeExecution invalid = execution("invalid", "def main(x):\n    return x\n");
    invalid.getSpec().setTimeoutSeconds(301); // above the provider's default maximum of 300
    cluster.create(invalid);
    CodeExecution invalidDone = cluster.awaitTerminal("invalid");
    assertThat(Conditions.reason(invalidDone.getStatus().getConditions(), ConditionTypes.SUCCEEDED))
        .isEqualTo(CodeExecutionReason.INVALID_SPEC.value());

    String scrape = scrape();
    List<MonitoringQueries.Query> queries = MonitoringQueries.all();
    assertThat(MonitoringQueries.unserved(queries, scrape))
        .as("metrics queried by the chart and not served")
        .isEmpty();

    assertThat(sawWaiting)
        .as("the second execution showed in sandbox_codeexecution_waiting")
        .isTrue();
    assertThat(
            value(
                scrape,
                "sandbox_codeexecution_completed_total",
                "language=\"python\",outcome=\"Completed\",type=\"SelfManaged\""))
        .isEqualTo(1);
    assertThat(
            value(
                scrape,
                "sandbox_codeexecution_completed_total",
                "language=\"python\",outcome=\"UserCodeError\",type=\"SelfManaged\""))
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
                "sandbox_codeexecution_queue_wait_seconds_count",
                "language=\"python\",type=\"SelfManaged\""))
        .isEqualTo(2);
    assertThat(value(scrape, "sandbox_provider_ready", "type=\"SelfManaged\"")).isEqualTo(1);
    assertThat(value(scrape, "sandbox_provider_not_ready", "type=\"SelfManaged\"")).isEqualTo(1);
    assertThat(
            value(
                scrape,
                "sandbox_backend_errors_total",
                "reason=\"RuntimeClassNotFound\",type=\"SelfManaged\""))
        .isGreaterThanOrEqualTo(1);
    assertThat(
            value(
                scrape,
                "sandbox_codeexecution_waiting",
                "language=\"python\",type=\"SelfManaged\""))
        .isZero();
    assertThat(value(scrape, "sandbox_codeexecution_running", "type=\"SelfManaged\"")).isZero();
    // Both pools aim at one idle pod; the broken one creates none while its RuntimeClass is
    // missing.
    assertThat(value(scrape, "sandbox_pool_desired", "language=\"python\",type=\"SelfManaged\""))
        .isEqualTo(2);
    assertThat(scrape)
        .doesNotContain(cluster.namespace())
        .doesNotContain("\"sleeps\""); // no names in tags
  }

  /**
   * A SelfManaged pool of one small Python pod. RuntimeClass gvisor is backed by runc on the local
   * cluster (docs/local-cluster.md).
   */
  private static SandboxProvider provider(String name, String runtimeClass) {
    return cluster
        .client()
        .getKubernetesSerialization()
        .unmarshal(
            """
        apiVersion: sandboxes.dev/v1alpha1
        kind: SandboxProvider
        metadata:
          name: %s
        spec:
          type: SelfManaged
          runtimes:
            - language: python
          selfManaged:
            runtimeClassName: %s
            poolSize: 1
            resources: {cpu: "100m", memory: 128Mi, ephemeralStorage: 64Mi}
        """
                .formatted(name, runtimeClass),
            SandboxProvider.class);
  }

  private static CodeExecution execution(String name, String code) {
    CodeExecution cx = TestResources.anExecution(cluster.namespace(), name, POOL);
    cx.getSpec().setCode(code);
    cx.getSpec().setArguments(Map.of("x", 1));
    cx.getSpec().setTimeoutSeconds(60);
    return cx;
  }

  private static boolean finished(String name) {
    CodeExecution cx = cluster.execution(name);
    return cx != null && cx.getStatus() != null && cx.getStatus().getCompletionTime() != null;
  }

  private static String reason(String name) {
    return Conditions.reason(
        cluster.execution(name).getStatus().getConditions(), ConditionTypes.SUCCEEDED);
  }

  private static String scrape() throws IOException, InterruptedException {
    HttpResponse<String> response =
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + health.port() + "/metrics"))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).isEqualTo(200);
    return response.body();
  }

  private static double gauge(String name, String labels) throws IOException, InterruptedException {
    return value(scrape(), name, labels);
  }

  /** One sample's value; labels in the exposition's (alphabetical) order. */
  private static double value(String scrape, String name, String labels) {
    Matcher m =
        Pattern.compile("(?m)^" + Pattern.quote(name + "{" + labels + "}") + " (\\S+)$")
            .matcher(scrape);
    assertThat(m.find()).as("%s{%s} in the scrape", name, labels).isTrue();
    return Double.parseDouble(m.group(1));
  }
}
