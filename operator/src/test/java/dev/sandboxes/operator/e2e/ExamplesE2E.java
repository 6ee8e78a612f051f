package dev.sandboxes.operator.e2e;

import static dev.sandboxes.operator.e2e.E2eCluster.kubectl;
import static org.assertj.core.api.Assertions.assertThat;

import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionReason;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.Phase;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.operator.testing.DockerEngines;
import dev.sandboxes.operator.testing.ProjectPaths;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * GitOps: everything in examples/ applies cleanly with kubectl, client-side and server-side, and
 * does what examples/README.md says once an operator (in-process here) reconciles it. The Docker
 * providers use the podman engines on this machine, so the default provider runs real gVisor. The
 * SaaS providers' manifests are applied as a server-side dry run only: the API server checks them
 * against the schema, but no operator sees them, because its probe would look up and call the
 * public service (tests send no packet beyond the machine; their behaviour is tested against the
 * fakes in tier 1).
 */
@Tag("e2e")
class ExamplesE2E {

  /** Manifests whose provider would reach a public SaaS endpoint once an operator probes it. */
  private static final Set<String> SAAS_MANIFESTS =
      Set.of(
          "providers/e2b.yaml",
          "providers/e2b-api-key.yaml",
          "providers/aliyun.yaml",
          "providers/aliyun-credentials.yaml");

  @ParameterizedTest(name = "kubectl apply {0}")
  @ValueSource(strings = {"--server-side=false", "--server-side=true"})
  void everyExampleAppliesAndRuns(String applyMode) throws Exception {
    // The examples name the podman sockets; make sure the engines behind them are up.
    DockerEngines.host("runsc");
    DockerEngines.host("runc");
    try (E2eCluster cluster =
        E2eCluster.open(applyMode.endsWith("true") ? "examples-ssa" : "examples-csa")) {
      cluster.startOperator();
      List<String> local = manifests(false);
      List<String> saas = manifests(true);
      assertThat(saas).hasSize(SAAS_MANIFESTS.size());
      String checked = kubectl(apply(applyMode, cluster.namespace(), saas, "--dry-run=server"));
      assertThat(checked)
          .contains(
              "sandboxprovider.sandboxes.dev/e2b",
              "sandboxprovider.sandboxes.dev/aliyun",
              "(server dry run)");
      assertThat(
              cluster
                  .client()
                  .resources(SandboxProvider.class)
                  .inNamespace(cluster.namespace())
                  .list()
                  .getItems())
          .as("a dry run creates nothing")
          .isEmpty();
      String applied = kubectl(apply(applyMode, cluster.namespace(), local));
      assertThat(applied)
          .contains(
              "codeexecution.sandboxes.dev/hello-python",
              "sandboxprovider.sandboxes.dev/podman-gvisor");

      SandboxProvider gvisor = cluster.awaitReady("podman-gvisor");
      assertThat(gvisor.getStatus().getPools()).isNotEmpty();
      cluster.awaitReady("podman-runc");

      CodeExecution python = cluster.awaitTerminal("hello-python", Duration.ofMinutes(2));
      assertSucceeded(python);
      assertThat(python.getStatus().getSandbox().getProvider()).isEqualTo("podman-gvisor");
      assertThat(python.getStatus().getResult().get("greeting").asText())
          .isEqualTo("Hello, Wörld!");
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
      assertThat(artifacts.getStatus().getArtifacts())
          .extracting(a -> a.getName())
          .containsExactly("notes.txt", "report/summary.csv");
      var artifactsConfigMap =
          cluster
              .client()
              .configMaps()
              .inNamespace(cluster.namespace())
              .withName("artifacts-artifacts")
              .get();
      assertThat(
              new String(
                  java.util.Base64.getDecoder()
                      .decode(artifactsConfigMap.getBinaryData().get("report_summary.csv")),
                  java.nio.charset.StandardCharsets.UTF_8))
          .startsWith("n,square")
          .contains("5,25");
      // Issue 18: nulls survive client-side apply through argumentsJSON and a ConfigMap.
      CodeExecution nulls = cluster.awaitTerminal("null-arguments");
      assertSucceeded(nulls);
      // Compared as JSON: the key order of a stored object is the API server's, not the manifest's.
      com.fasterxml.jackson.databind.JsonNode nullsResult = nulls.getStatus().getResult();
      assertThat(nullsResult)
          .isEqualTo(
              new com.fasterxml.jackson.databind.ObjectMapper()
                  .readTree(
                      "{\"value\":3.14,\"nothing\":null,\"unit\":null,\"options\":{\"verbose\":null,\"tags\":[]}}"));

      CodeExecution userError = cluster.awaitTerminal("user-error");
      assertThat(userError.getStatus().getPhase()).isEqualTo(Phase.FAILED);
      assertThat(Conditions.reason(userError.getStatus().getConditions(), ConditionTypes.SUCCEEDED))
          .isEqualTo(CodeExecutionReason.USER_CODE_ERROR.value());
      assertThat(userError.getStatus().getStderr()).contains("ZeroDivisionError");

      // Applying the same files again changes nothing: the status the operator wrote is not
      // fought over, and no execution is created or run twice.
      String again = kubectl(apply(applyMode, cluster.namespace(), local));
      assertThat(again).doesNotContain("created");
      assertThat(cluster.execution("hello-python").getStatus().getSandbox().getId())
          .isEqualTo(python.getStatus().getSandbox().getId());
      assertThat(cluster.execution("hello-python").getMetadata().getGeneration()).isEqualTo(1L);
    }
  }

  /** The manifests under examples/ (kubectl -R takes the same suffixes), SaaS ones or the rest. */
  private static List<String> manifests(boolean saas) throws IOException {
    Path examples = ProjectPaths.root().resolve("examples");
    try (Stream<Path> files = Files.walk(examples)) {
      return files
          .filter(Files::isRegularFile)
          .filter(f -> f.toString().matches(".*\\.(yaml|yml|json)$"))
          .filter(f -> SAAS_MANIFESTS.contains(examples.relativize(f).toString()) == saas)
          .map(Path::toString)
          .sorted()
          .toList();
    }
  }

  private static String[] apply(
      String applyMode, String namespace, List<String> files, String... flags) {
    List<String> args = new ArrayList<>(List.of("apply", applyMode, "-n", namespace));
    args.addAll(List.of(flags));
    files.forEach(f -> args.addAll(List.of("-f", f)));
    return args.toArray(String[]::new);
  }

  private static void assertSucceeded(CodeExecution cx) {
    assertThat(cx.getStatus().getPhase())
        .as("%s: %s", cx.getMetadata().getName(), cx.getStatus().getMessage())
        .isEqualTo(Phase.SUCCEEDED);
    assertThat(cx.getStatus().getExitCode()).isZero();
  }
}
