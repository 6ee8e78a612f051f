package dev.sandboxes.operator.e2e;

import static dev.sandboxes.operator.e2e.E2eCluster.kubectl;
import static org.assertj.core.api.Assertions.assertThat;

import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.Phase;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.operator.testing.DockerEngines;
import dev.sandboxes.operator.testing.ProjectPaths;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * GitOps: everything in examples/ applies cleanly with kubectl, client-side and server-side, and
 * does what examples/README.md says once an operator (in-process here) reconciles it. The Docker
 * providers use the podman engines on this machine, so the default provider runs real gVisor;
 * the SaaS providers have placeholder credentials and cannot reach their service, so they must
 * report why they are not Ready.
 */
class ExamplesE2E {

  @ParameterizedTest(name = "kubectl apply {0}")
  @ValueSource(strings = {"--server-side=false", "--server-side=true"})
  void everyExampleAppliesAndRuns(String applyMode) throws Exception {
    // The examples name the podman sockets; make sure the engines behind them are up.
    DockerEngines.host("runsc");
    DockerEngines.host("runc");
    try (E2eCluster cluster = E2eCluster.open(applyMode.endsWith("true") ? "examples-ssa" : "examples-csa")) {
      cluster.startOperator();
      String examples = ProjectPaths.root().resolve("examples").toString();
      String applied = kubectl("apply", applyMode, "-R", "-f", examples, "-n", cluster.namespace());
      assertThat(applied).contains("codeexecution.sandboxes.dev/hello-python", "sandboxprovider.sandboxes.dev/podman-gvisor");

      SandboxProvider gvisor = cluster.awaitReady("podman-gvisor");
      assertThat(gvisor.getStatus().getPools()).isNotEmpty();
      cluster.awaitReady("podman-runc");

      CodeExecution python = cluster.awaitTerminal("hello-python", Duration.ofMinutes(2));
      assertSucceeded(python);
      assertThat(python.getStatus().getSandbox().getProvider()).isEqualTo("podman-gvisor");
      assertThat(python.getStatus().getResult().get("greeting").asText()).isEqualTo("Hello, Wörld!");
      assertThat(python.getStatus().getResult().get("tags").toString()).isEqualTo("[\"a\",null,3]");
      assertThat(python.getStatus().getStdout()).isEqualTo("greeting Wörld\n");

      CodeExecution javascript = cluster.awaitTerminal("hello-javascript");
      assertSucceeded(javascript);
      assertThat(javascript.getStatus().getResult().get("doubled").asInt()).isEqualTo(42);
      assertThat(javascript.getStatus().getResult().get("platform").asText()).isEqualTo("linux");

      CodeExecution script = cluster.awaitTerminal("script-mode");
      assertSucceeded(script);
      assertThat(script.getStatus().getStdout()).startsWith("Python 3.");
      assertThat(script.getStatus().getStderr()).contains("do not fail the run");

      CodeExecution fibonacci = cluster.awaitTerminal("fibonacci");
      assertSucceeded(fibonacci);
      assertThat(fibonacci.getStatus().getResult().asLong()).isEqualTo(2880067194370816120L);

      CodeExecution artifacts = cluster.awaitTerminal("artifacts");
      assertSucceeded(artifacts);
      assertThat(artifacts.getStatus().getArtifacts()).extracting(a -> a.getName())
          .containsExactly("notes.txt", "report/summary.csv");
      var artifactsConfigMap = cluster.client().configMaps().inNamespace(cluster.namespace())
          .withName("artifacts-artifacts").get();
      assertThat(new String(java.util.Base64.getDecoder().decode(artifactsConfigMap.getBinaryData()
          .get("report_summary.csv")), java.nio.charset.StandardCharsets.UTF_8)).startsWith("n,square").contains("5,25");
      // Issue 18: nulls survive client-side apply through argumentsJSON and a ConfigMap.
      CodeExecution nulls = cluster.awaitTerminal("null-arguments");
      assertSucceeded(nulls);
      // Compared as JSON: the key order of a stored object is the API server's, not the manifest's.
      com.fasterxml.jackson.databind.JsonNode nullsResult = nulls.getStatus().getResult();
      assertThat(nullsResult).isEqualTo(new com.fasterxml.jackson.databind.ObjectMapper().readTree(
              "{\"value\":3.14,\"nothing\":null,\"unit\":null,\"options\":{\"verbose\":null,\"tags\":[]}}"));

      CodeExecution userError = cluster.awaitTerminal("user-error");
      assertThat(userError.getStatus().getPhase()).isEqualTo(Phase.FAILED);
      assertThat(Conditions.reason(userError.getStatus().getConditions(), ConditionTypes.SUCCEEDED))
          .isEqualTo(ConditionTypes.USER_CODE_ERROR);
      assertThat(userError.getStatus().getStderr()).contains("ZeroDivisionError");

      for (String saas : List.of("e2b", "aliyun")) {
        org.awaitility.Awaitility.await(saas + " reports why it is not Ready").atMost(Duration.ofSeconds(60))
            .until(() -> {
              SandboxProvider provider = cluster.provider(saas);
              return provider.getStatus() != null
                  && Conditions.isFalse(provider.getStatus().getConditions(), ConditionTypes.READY)
                  && Conditions.get(provider.getStatus().getConditions(), ConditionTypes.READY)
                      .map(c -> c.getMessage() != null && !c.getMessage().isBlank()).orElse(false);
            });
      }

      // Applying the same files again changes nothing: the status the operator wrote is not
      // fought over, and no execution is created or run twice.
      String again = kubectl("apply", applyMode, "-R", "-f", examples, "-n", cluster.namespace());
      assertThat(again).doesNotContain("created");
      assertThat(cluster.execution("hello-python").getStatus().getSandbox().getId())
          .isEqualTo(python.getStatus().getSandbox().getId());
      assertThat(cluster.execution("hello-python").getMetadata().getGeneration()).isEqualTo(1L);
    }
  }

  private static void assertSucceeded(CodeExecution cx) {
    assertThat(cx.getStatus().getPhase())
        .as("%s: %s", cx.getMetadata().getName(), cx.getStatus().getMessage())
        .isEqualTo(Phase.SUCCEEDED);
    assertThat(cx.getStatus().getExitCode()).isZero();
  }
}
