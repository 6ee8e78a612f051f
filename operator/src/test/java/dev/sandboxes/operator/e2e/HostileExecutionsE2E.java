package dev.sandboxes.operator.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionReason;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.Phase;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.operator.codeexecution.ExecutionCachePruning;
import dev.sandboxes.operator.testing.DockerEngines;
import dev.sandboxes.operator.testing.TestResources;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * What the API server accepts but a JSON parser may not: an execution whose arguments nest 5,000
 * levels deep (Kubernetes accepts up to 10,000; Jackson refuses more than 1,000 by default). Its
 * author gets InvalidSpec naming the field; everyone else's executions keep running, because the
 * operator's cache never parses the arguments. Before, one such object made the list of all
 * CodeExecutions unreadable, so the operator processed none of them, on every restart.
 */
@Tag("e2e")
class HostileExecutionsE2E {

  private static final String PROVIDER = "docker-runc";
  private static E2eCluster cluster;

  @BeforeAll
  static void start() {
    String host = DockerEngines.host("runc");
    cluster = E2eCluster.open("hostile");
    SandboxProvider provider = TestResources.aDockerProvider(cluster.namespace(), PROVIDER);
    provider.getSpec().getDocker().setHost(host);
    provider.getSpec().getDocker().setRuntime("runc");
    provider.getSpec().getDocker().setPoolSize(2);
    cluster.create(provider);
    createDeeplyNested(
        "deep", 5000); // before the operator starts: it must get through its first list
    cluster.startOperator();
    cluster.awaitReady(PROVIDER);
  }

  @AfterAll
  static void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  void argumentsNestedBeyondWhatParsersAcceptAreAnInvalidSpecAndOthersStillRun() {
    CodeExecution ordinary = TestResources.anExecution(cluster.namespace(), "ordinary", PROVIDER);
    cluster.create(ordinary);

    // This test's own client cannot read that object either; the operator's cache client can.
    CodeExecution deep;
    try (KubernetesClient pruning = ExecutionCachePruning.informerClient(cluster.client())) {
      await("deep terminal")
          .atMost(Duration.ofMinutes(2))
          .pollInterval(Duration.ofMillis(250))
          .until(
              () -> {
                CodeExecution current =
                    pruning
                        .resources(CodeExecution.class)
                        .inNamespace(cluster.namespace())
                        .withName("deep")
                        .get();
                return current.getStatus() != null
                    && current.getStatus().getCompletionTime() != null;
              });
      deep =
          pruning
              .resources(CodeExecution.class)
              .inNamespace(cluster.namespace())
              .withName("deep")
              .get();
    }
    assertThat(deep.getStatus().getPhase()).isEqualTo(Phase.FAILED);
    assertThat(Conditions.reason(deep.getStatus().getConditions(), ConditionTypes.SUCCEEDED))
        .isEqualTo(CodeExecutionReason.INVALID_SPEC.value());
    assertThat(deep.getStatus().getMessage()).contains("spec.arguments");
    cluster.awaitEvent("CodeExecution", "deep", "InvalidSpec");

    CodeExecution done = cluster.awaitTerminal("ordinary", Duration.ofMinutes(2));
    assertThat(done.getStatus().getPhase())
        .as(done.getStatus().getMessage())
        .isEqualTo(Phase.SUCCEEDED);
    assertThat(done.getStatus().getResult().asInt()).isEqualTo(1);
  }

  @Test
  void argumentsNestedJustBeyondTheLimitNameTheLimit() {
    createDeeplyNested("deeper-than-64", 100);
    CodeExecution cx = cluster.awaitTerminal("deeper-than-64", Duration.ofMinutes(2));
    assertThat(cx.getStatus().getMessage())
        .contains("spec.arguments nests 100 levels deep; at most 64");
  }

  /** Created with kubectl from raw JSON: no Java client would write it. */
  private static void createDeeplyNested(String name, int depth) {
    String arguments = "{\"x\":".repeat(depth) + "1" + "}".repeat(depth);
    String json =
        """
        {"apiVersion":"sandboxes.dev/v1alpha1","kind":"CodeExecution",
         "metadata":{"name":"%s","namespace":"%s"},
         "spec":{"providerRef":{"name":"%s"},"language":"python","code":"def main(**a):\\n    return 1\\n",
                 "arguments":%s}}
        """
            .formatted(name, cluster.namespace(), PROVIDER, arguments);
    try {
      Path file = Files.createTempFile("hostile-", ".json");
      Files.writeString(file, json);
      E2eCluster.kubectl("create", "-f", file.toString());
      Files.delete(file);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
