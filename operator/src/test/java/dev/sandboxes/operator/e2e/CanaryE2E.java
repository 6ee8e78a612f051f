package dev.sandboxes.operator.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.api.v1alpha1.SandboxProviderReason;
import dev.sandboxes.operator.testing.DockerEngines;
import io.fabric8.kubernetes.api.model.Condition;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * spec.canary on a real cluster: the API server accepts the field and the status (CRD schema of
 * this tree), and the canary runs through a SelfManaged pool (real pods, real exec) and a Docker
 * pool on the podman engine (runsc; skipped without it), passes with its latency, and runs again
 * after intervalSeconds.
 */
@Tag("e2e")
class CanaryE2E {

  private static final int INTERVAL_SECONDS = 30;
  private static E2eCluster cluster;

  @BeforeAll
  static void start() {
    cluster = E2eCluster.open("canary");
    cluster.startOperator();
  }

  @AfterAll
  static void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  void aSelfManagedPoolPassesItsCanaryAndRunsItAgainAfterTheInterval() {
    cluster.create(
        cluster
            .client()
            .getKubernetesSerialization()
            .unmarshal(
                """
        apiVersion: sandboxes.dev/v1alpha1
        kind: SandboxProvider
        metadata:
          name: pool-with-canary
        spec:
          type: SelfManaged
          runtimes:
            - language: javascript
            - language: python
          selfManaged:
            runtimeClassName: gvisor
            poolSize: 1
            resources: {cpu: "500m", memory: 256Mi, ephemeralStorage: 64Mi}
          canary:
            intervalSeconds: %d
        """
                    .formatted(INTERVAL_SECONDS),
                SandboxProvider.class));

    SandboxProvider first = awaitCanaryPassed("pool-with-canary", null);
    assertThat(first.getStatus().getCanary().getLanguage())
        .isEqualTo(Language.JAVASCRIPT); // the first runtime
    System.out.printf(
        "SelfManaged canary on the cluster: %d ms%n",
        first.getStatus().getCanary().getLatencyMillis());

    SandboxProvider second =
        awaitCanaryPassed("pool-with-canary", first.getStatus().getCanary().getLastRunTime());
    // intervalSeconds is from one start to the next; status.canary says when a run finished and how
    // long it took.
    assertThat(started(second)).isAfterOrEqualTo(started(first).plusSeconds(INTERVAL_SECONDS - 2));
    System.out.printf(
        "SelfManaged canary again after %ds: %d ms%n",
        INTERVAL_SECONDS, second.getStatus().getCanary().getLatencyMillis());
  }

  @Test
  void aDockerPoolOnGvisorPassesItsCanary() {
    String host = DockerEngines.host("runsc"); // skips the test without the engine
    cluster.create(
        cluster
            .client()
            .getKubernetesSerialization()
            .unmarshal(
                """
        apiVersion: sandboxes.dev/v1alpha1
        kind: SandboxProvider
        metadata:
          name: docker-with-canary
        spec:
          type: Docker
          docker: {host: "%s", runtime: runsc, poolSize: 1}
          canary: {intervalSeconds: 3600, language: python}
        """
                    .formatted(host),
                SandboxProvider.class));

    SandboxProvider passed = awaitCanaryPassed("docker-with-canary", null);
    assertThat(passed.getStatus().getCanary().getLanguage()).isEqualTo(Language.PYTHON);
    System.out.printf(
        "Docker (runsc) canary from the cluster's operator: %d ms%n",
        passed.getStatus().getCanary().getLatencyMillis());
  }

  private static Instant started(SandboxProvider provider) {
    return Instant.parse(provider.getStatus().getCanary().getLastRunTime())
        .minusMillis(provider.getStatus().getCanary().getLatencyMillis());
  }

  /**
   * Waits for CanaryPassed True from a run that finished after {@code after} (an RFC 3339 time, or
   * null).
   */
  private static SandboxProvider awaitCanaryPassed(String name, String after) {
    await("canary of " + name)
        .atMost(Duration.ofSeconds(INTERVAL_SECONDS + 120))
        .pollInterval(Duration.ofMillis(500))
        .until(
            () -> {
              SandboxProvider provider = cluster.provider(name);
              if (provider == null
                  || provider.getStatus() == null
                  || provider.getStatus().getCanary() == null) {
                return false;
              }
              Condition condition =
                  Conditions.get(provider.getStatus().getConditions(), ConditionTypes.CANARY_PASSED)
                      .orElse(null);
              assertThat(condition).isNotNull();
              assertThat(condition.getStatus()).as(condition.getMessage()).isNotEqualTo("False");
              return "True".equals(condition.getStatus())
                  && (after == null
                      || !after.equals(provider.getStatus().getCanary().getLastRunTime()));
            });
    SandboxProvider provider = cluster.provider(name);
    Condition condition =
        Conditions.get(provider.getStatus().getConditions(), ConditionTypes.CANARY_PASSED)
            .orElseThrow();
    assertThat(condition.getReason()).isEqualTo(SandboxProviderReason.CANARY_SUCCEEDED.value());
    assertThat(condition.getMessage()).containsPattern("execution ran end to end in \\d+ ms");
    assertThat(condition.getObservedGeneration()).isEqualTo(provider.getMetadata().getGeneration());
    assertThat(provider.getStatus().getCanary().getLatencyMillis()).isPositive();
    return provider;
  }
}
