package dev.sandboxes.operator.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionReason;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.Phase;
import dev.sandboxes.client.ExecutionResult;
import dev.sandboxes.client.SandboxClient;
import dev.sandboxes.client.SandboxExecutionException;
import dev.sandboxes.operator.testing.DockerEngines;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.http.BasicBuilder;
import io.fabric8.kubernetes.client.http.HttpRequest;
import io.fabric8.kubernetes.client.http.Interceptor;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The Java client against a real API server: an in-process operator runs the code on a Docker
 * provider (podman with runc) that is the namespace's default. Shows the typed result, the typed
 * exceptions, the clean-up, and that the client waits on a watch rather than polling.
 */
@Tag("e2e")
class SandboxClientE2E {

  private static final String PROVIDER = "docker-runc";

  private static E2eCluster cluster;
  private static SandboxClient sandboxes;

  @BeforeAll
  static void open() {
    DockerEngines.host("runc");
    cluster = E2eCluster.open("client");
    cluster.startOperator();
    cluster.createDockerProvider(PROVIDER, "runc", true);
    sandboxes = new SandboxClient(cluster.client(), cluster.namespace());
  }

  @AfterAll
  static void close() {
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  void successGivesATypedResultAndDeletesTheExecution() {
    ExecutionResult result =
        sandboxes.execute(
            "def main(x, name):\n    print('hello ' + name)\n    return {'doubled': x * 2, 'name': name}\n",
            Language.PYTHON,
            Map.of("x", 21, "name", "agent"),
            Duration.ofSeconds(20));

    assertThat(result.succeeded()).isTrue();
    assertThat(result.reason()).isEqualTo(CodeExecutionReason.COMPLETED.value());
    assertThat(result.exitCode()).isZero();
    assertThat(result.result().get("doubled").asInt()).isEqualTo(42);
    assertThat(result.result().get("name").asText()).isEqualTo("agent");
    assertThat(result.stdout()).isEqualTo("hello agent\n");
    assertThat(result.stderr()).isEmpty();
    assertThat(result.sandboxId()).isNotBlank();
    assertThat(result.duration()).isPositive();
    assertThat(result.name()).startsWith("exec-");
    // keep=false (the default): the CodeExecution is gone once execute() returned.
    await("CodeExecution " + result.name() + " deleted")
        .atMost(Duration.ofSeconds(10))
        .until(() -> cluster.execution(result.name()) == null);
  }

  @Test
  void userErrorThrowsCodeFailedWithStderr() {
    assertThatThrownBy(
            () ->
                sandboxes.execute(
                    "def main():\n    raise ValueError('boom from the sandbox')\n",
                    Language.PYTHON,
                    Map.of(),
                    Duration.ofSeconds(20)))
        .isInstanceOfSatisfying(
            SandboxExecutionException.CodeFailedException.class,
            e -> {
              assertThat(e.result().reason())
                  .isEqualTo(CodeExecutionReason.USER_CODE_ERROR.value());
              assertThat(e.result().succeeded()).isFalse();
              assertThat(e.result().stderr()).contains("ValueError: boom from the sandbox");
              assertThat(e.result().result()).isNull();
              assertThat(e.getMessage()).contains(CodeExecutionReason.USER_CODE_ERROR.value());
            });
  }

  @Test
  void aJavascriptExitCodeIsReported() {
    assertThatThrownBy(
            () ->
                sandboxes.execute(
                    "function main() { console.error('bad input'); process.exit(3); }",
                    Language.JAVASCRIPT,
                    Map.of(),
                    Duration.ofSeconds(20)))
        .isInstanceOfSatisfying(
            SandboxExecutionException.CodeFailedException.class,
            e -> {
              assertThat(e.result().exitCode()).isEqualTo(3);
              assertThat(e.result().stderr()).contains("bad input");
            });
  }

  @Test
  void timeoutThrowsTimedOut() {
    long started = System.nanoTime();
    assertThatThrownBy(
            () ->
                sandboxes.execute(
                    "import time\ndef main():\n    time.sleep(60)\n",
                    Language.PYTHON,
                    Map.of(),
                    Duration.ofSeconds(2)))
        .isInstanceOfSatisfying(
            SandboxExecutionException.TimedOutException.class,
            e -> assertThat(e.result().reason()).isEqualTo(CodeExecutionReason.TIMED_OUT.value()));
    // Killed at its 2 s limit, not after the 60 s sleep.
    assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(30));
  }

  @Test
  void anUnknownProviderThrowsInvalidExecutionWithoutWaiting() {
    long started = System.nanoTime();
    assertThatThrownBy(
            () ->
                sandboxes.execute(
                    "def main():\n    return 1\n",
                    Language.PYTHON,
                    Map.of(),
                    Duration.ofSeconds(20),
                    SandboxClient.Options.defaults().withProvider("no-such-provider")))
        .isInstanceOf(SandboxExecutionException.InvalidExecutionException.class)
        .hasMessageContaining("no-such-provider");
    assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(15));
  }

  @Test
  void keepLeavesTheFinishedExecutionInTheCluster() {
    ExecutionResult result =
        sandboxes.execute(
            "def main():\n    return 'kept'\n",
            Language.PYTHON,
            Map.of(),
            Duration.ofSeconds(20),
            SandboxClient.Options.defaults().keepingTheExecution());
    CodeExecution kept = cluster.execution(result.name());
    assertThat(kept).isNotNull();
    assertThat(kept.getStatus().getPhase()).isEqualTo(Phase.SUCCEEDED);
    assertThat(kept.getStatus().getResult().asText()).isEqualTo("kept");
  }

  /**
   * Every request the client sends is recorded. A run of about 4 s takes one create, one list and
   * one watch (fabric8's waitUntilCondition is an informer), and one delete; a polling loop would
   * show a GET per interval instead.
   */
  @Test
  void theClientWaitsOnAWatchNotByPolling() {
    List<String> requests = new CopyOnWriteArrayList<>();
    Interceptor recorder =
        new Interceptor() {
          @Override
          public void before(BasicBuilder builder, HttpRequest request, RequestTags tags) {
            requests.add(
                request.method()
                    + " "
                    + request.uri().getRawPath()
                    + (request.uri().getRawQuery() == null
                        ? ""
                        : "?" + request.uri().getRawQuery()));
          }
        };
    try (KubernetesClient recorded =
        new KubernetesClientBuilder()
            .withConfig(Config.autoConfigure(null))
            .withHttpClientBuilderConsumer(b -> b.addOrReplaceInterceptor("record", recorder))
            .build()) {
      ExecutionResult result =
          new SandboxClient(recorded, cluster.namespace())
              .execute(
                  "import time\ndef main():\n    time.sleep(4)\n    return 'slept'\n",
                  Language.PYTHON,
                  Map.of(),
                  Duration.ofSeconds(30));
      assertThat(result.result().asText()).isEqualTo("slept");
      assertThat(result.duration()).isGreaterThanOrEqualTo(Duration.ofSeconds(4));

      List<String> executionRequests =
          requests.stream().filter(r -> r.contains("/codeexecutions")).toList();
      assertThat(executionRequests)
          .as("requests: %s", executionRequests)
          .filteredOn(r -> r.startsWith("POST "))
          .hasSize(1);
      assertThat(executionRequests)
          .as("requests: %s", executionRequests)
          .filteredOn(r -> r.startsWith("GET ") && r.contains("watch=true"))
          .hasSize(1);
      assertThat(executionRequests)
          .as("requests: %s", executionRequests)
          .filteredOn(r -> r.startsWith("GET ") && !r.contains("watch=true"))
          .hasSizeLessThanOrEqualTo(1);
      assertThat(executionRequests)
          .as("requests: %s", executionRequests)
          .filteredOn(r -> r.startsWith("DELETE "))
          .hasSize(1);
    }
  }
}
