package dev.sandboxes.operator.e2e;

import static dev.sandboxes.operator.e2e.E2eCluster.kubectl;
import static dev.sandboxes.operator.e2e.E2eCluster.kubectlResult;
import static org.assertj.core.api.Assertions.assertThat;

import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionStatus;
import dev.sandboxes.api.v1alpha1.Phase;
import dev.sandboxes.operator.testing.TestResources;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * What only a real API server can show (the mock server has no schema validation and no
 * subresources): the CRD schema rejects bad manifests with a message naming the field, status is a
 * subresource, printer columns and short names work. No operator runs here.
 */
@Tag("e2e")
class CrdSchemaE2E {

  private static E2eCluster cluster;

  @BeforeAll
  static void open() {
    cluster = E2eCluster.open("schema");
  }

  @AfterAll
  static void close() {
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  void anUnknownLanguageIsRejectedNamingTheField() throws IOException {
    assertRejected(
        execution("bad-language", "language: ruby\n  code: 'puts 1'"),
        "spec.language",
        "Unsupported value: \"ruby\"",
        "\"javascript\"",
        "\"python\"");
  }

  @Test
  void aZeroTimeoutIsRejected() throws IOException {
    assertRejected(
        execution("bad-timeout", "language: python\n  code: 'print(1)'\n  timeoutSeconds: 0"),
        "spec.timeoutSeconds",
        "should be greater than or equal to 1");
  }

  @Test
  void aMissingLanguageIsRejected() throws IOException {
    assertRejected(execution("no-language", "code: 'print(1)'"), "spec.language", "Required value");
  }

  @Test
  void codeAboveTheSizeLimitIsRejected() throws IOException {
    String huge = "#".repeat(262_145);
    assertRejected(
        execution("huge-code", "language: python\n  code: '" + huge + "'"),
        "spec.code",
        "should be at most 262144 chars long");
  }

  @Test
  void anUnknownProviderTypeIsRejected() throws IOException {
    String provider =
        """
        apiVersion: sandboxes.dev/v1alpha1
        kind: SandboxProvider
        metadata:
          name: bad-type
        spec:
          type: Lambda
        """;
    assertRejected(provider, "spec.type", "Unsupported value: \"Lambda\"");
  }

  @Test
  void aPoolSizeAboveTheMaximumIsRejected() throws IOException {
    String provider =
        """
        apiVersion: sandboxes.dev/v1alpha1
        kind: SandboxProvider
        metadata:
          name: huge-pool
        spec:
          type: SelfManaged
          selfManaged:
            poolSize: 1000
        """;
    assertRejected(provider, "spec.selfManaged.poolSize", "should be less than or equal to 100");
  }

  @Test
  void statusIsASubresource() {
    CodeExecution cx = TestResources.anExecution(cluster.namespace(), "status-subresource", null);
    CodeExecutionStatus forged = new CodeExecutionStatus();
    forged.setPhase(Phase.SUCCEEDED);
    cx.setStatus(forged);
    CodeExecution created = cluster.create(cx);
    // A create (or update) of the main resource drops status: users cannot forge an outcome.
    assertThat(created.getStatus() == null ? null : created.getStatus().getPhase()).isNull();

    CodeExecution withStatus = cluster.execution("status-subresource");
    CodeExecutionStatus written = new CodeExecutionStatus();
    written.setPhase(Phase.PENDING);
    withStatus.setStatus(written);
    withStatus.getSpec().setCode("def main(x):\n    return 2\n");
    CodeExecution afterStatusWrite = cluster.client().resource(withStatus).updateStatus();
    // Through /status only status changes; the spec edit in the same request is ignored.
    assertThat(afterStatusWrite.getStatus().getPhase()).isEqualTo(Phase.PENDING);
    assertThat(afterStatusWrite.getSpec().getCode()).isEqualTo("def main(x):\n    return x\n");
    assertThat(afterStatusWrite.getMetadata().getGeneration()).isEqualTo(1L);
  }

  @Test
  void printerColumnsAndShortNames() {
    cluster.create(TestResources.anExecution(cluster.namespace(), "columns", "some-provider"));
    String table = kubectl("get", "cx", "-n", cluster.namespace());
    assertThat(table.lines().findFirst().orElseThrow())
        .contains("NAME", "PROVIDER", "LANGUAGE", "PHASE", "EXIT", "DURATION", "AGE");
    assertThat(table).contains("columns", "python");
    assertThat(kubectl("get", "sbp", "-n", cluster.namespace())).contains("No resources found");
  }

  private static String execution(String name, String specBody) {
    return "apiVersion: sandboxes.dev/v1alpha1\nkind: CodeExecution\nmetadata:\n  name: "
        + name
        + "\nspec:\n  "
        + specBody
        + "\n";
  }

  /**
   * kubectl create fails, its message names every fragment, and nothing was stored. kubectl's own
   * client-side check is off, so the message is the API server's.
   */
  private static void assertRejected(String manifest, String... fragments) throws IOException {
    Path file = Files.createTempFile("e2e-schema", ".yaml");
    try {
      Files.writeString(file, manifest, StandardCharsets.UTF_8);
      E2eCluster.Result result =
          kubectlResult(
              "create", "--validate=false", "-n", cluster.namespace(), "-f", file.toString());
      assertThat(result.exitCode()).as(result.output()).isNotZero();
      assertThat(result.output()).contains("is invalid").contains(fragments);
    } finally {
      Files.deleteIfExists(file);
    }
    assertThat(
            cluster
                .client()
                .resources(CodeExecution.class)
                .inNamespace(cluster.namespace())
                .list()
                .getItems())
        .noneMatch(cx -> manifest.contains("name: " + cx.getMetadata().getName() + "\n"));
  }
}
