package dev.sandboxes.operator.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.sandboxes.api.ApiConstants;
import dev.sandboxes.api.v1alpha1.ArtifactStatus;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.Phase;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.operator.testing.ArtifactScenarios;
import dev.sandboxes.operator.testing.TestResources;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Pod;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Artifacts on the real cluster through real gVisor pods: a text file, a 1 MiB file, more files
 * than the limit, a symlink to /etc/passwd, and a matplotlib chart (when the datascience image is
 * in the cluster). The files land in a ConfigMap the execution owns, which the garbage collector
 * deletes with it.
 */
@Tag("e2e")
class ArtifactsE2E {

  private static final String POOL = "artifacts";
  private static final String DATASCIENCE_IMAGE = "localhost/sandbox-runtime-datascience:v1";
  private static E2eCluster cluster;

  @BeforeAll
  static void start() {
    cluster = E2eCluster.open("artifacts");
    cluster.startOperator();
    cluster.create(TestResources.asDefault(SelfManagedE2E.providerIn(cluster, POOL, "gvisor", 1)));
    cluster.awaitReady(POOL);
  }

  @AfterAll
  static void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  private static CodeExecution run(String name, Language language, String code) {
    CodeExecution cx = TestResources.anExecution(cluster.namespace(), name, null);
    cx.getSpec().setLanguage(language);
    cx.getSpec().setCode(code);
    cx.getSpec().setArguments(null);
    cx.getSpec().setTimeoutSeconds(60);
    cluster.create(cx);
    return cluster.awaitTerminal(name, Duration.ofMinutes(3));
  }

  private static ConfigMap configMap(CodeExecution cx) {
    return cluster
        .client()
        .configMaps()
        .inNamespace(cluster.namespace())
        .withName(cx.getMetadata().getName() + "-artifacts")
        .get();
  }

  private static byte[] bytes(ConfigMap configMap, ArtifactStatus artifact) {
    assertThat(artifact.getConfigMapKeyRef().getName())
        .isEqualTo(configMap.getMetadata().getName());
    return Base64.getDecoder()
        .decode(configMap.getBinaryData().get(artifact.getConfigMapKeyRef().getKey()));
  }

  @Test
  void aTextFileComesBackInAnOwnedConfigMapAndASymlinkToEtcPasswdIsNotFollowed() throws Exception {
    CodeExecution cx =
        run(
            "text-and-link",
            Language.PYTHON,
            "import os\n"
                + "def main():\n"
                + "    d = os.environ['SANDBOX_OUTPUT_DIR']\n"
                + "    open(d + '/report.txt', 'w').write('héllo from gVisor\\n')\n"
                + "    os.symlink('/etc/passwd', d + '/passwd')\n"
                + "    return d\n");
    assertThat(cx.getStatus().getPhase())
        .as(cx.getStatus().getMessage())
        .isEqualTo(Phase.SUCCEEDED);
    assertThat(cx.getStatus().getResult().asText()).isEqualTo("/tmp/outputs");
    assertThat(cx.getStatus().getArtifacts())
        .extracting(ArtifactStatus::getName)
        .containsExactly("report.txt");
    assertThat(cx.getStatus().getArtifactsTruncated()).isNull();
    ArtifactStatus report = cx.getStatus().getArtifacts().get(0);
    ConfigMap configMap = configMap(cx);
    byte[] content = bytes(configMap, report);
    assertThat(new String(content, StandardCharsets.UTF_8)).isEqualTo("héllo from gVisor\n");
    assertThat(report.getSizeBytes()).isEqualTo(content.length);
    assertThat(report.getSha256())
        .isEqualTo(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content)));
    assertThat(report.getContentType()).isEqualTo("text/plain");
    assertThat(configMap.getBinaryData()).hasSize(1); // nothing of /etc/passwd
    assertThat(configMap.getMetadata().getOwnerReferences())
        .singleElement()
        .satisfies(owner -> assertThat(owner.getUid()).isEqualTo(cx.getMetadata().getUid()));
    cluster.awaitEvent("CodeExecution", "text-and-link", "ArtifactsSkipped");

    // Deleting the execution deletes its artifacts (the cluster's garbage collector, through the
    // owner reference).
    cluster.client().resource(cx).delete();
    await("artifacts ConfigMap garbage-collected")
        .atMost(Duration.ofSeconds(60))
        .until(() -> configMap(cx) == null);
  }

  @Test
  void aMebibyteFileFitsTheDefaultLimitExactly() {
    for (Language language : Language.values()) {
      String name = "mebibyte-" + language.value();
      CodeExecution cx = run(name, language, ArtifactScenarios.mebibyteAndSymlink(language));
      assertThat(cx.getStatus().getPhase())
          .as(cx.getStatus().getMessage())
          .isEqualTo(Phase.SUCCEEDED);
      assertThat(cx.getStatus().getArtifacts())
          .singleElement()
          .satisfies(
              artifact -> {
                assertThat(artifact.getName()).isEqualTo("mebibyte.bin");
                assertThat(artifact.getSizeBytes()).isEqualTo(1048576);
                byte[] content = bytes(configMap(cx), artifact);
                assertThat(content).hasSize(1048576);
                assertThat(content[1048575]).isEqualTo((byte) (1048575 % 251));
              });
      assertThat(cx.getStatus().getMessage())
          .contains("1 artifact (1048576 bytes) stored in ConfigMap " + name + "-artifacts");
    }
  }

  @Test
  void moreFilesThanTheLimitSucceedWithTruncationAndAnEventNamingWhatWasLeftOut() {
    CodeExecution cx =
        run(
            "too-many",
            Language.JAVASCRIPT,
            ArtifactScenarios.moreFilesThanTheLimit(Language.JAVASCRIPT));
    assertThat(cx.getStatus().getPhase())
        .as(cx.getStatus().getMessage())
        .isEqualTo(Phase.SUCCEEDED);
    assertThat(cx.getStatus().getArtifacts()).hasSize(10);
    assertThat(cx.getStatus().getArtifactsTruncated()).isTrue();
    assertThat(configMap(cx).getBinaryData()).hasSize(10);
    var event = cluster.awaitEvent("CodeExecution", "too-many", "ArtifactsTruncated");
    assertThat(event.getNote())
        .contains("file-11.txt (over maxArtifacts)")
        .contains("maxArtifacts");
  }

  @Test
  void aMatplotlibChartLeftOpenBecomesAPng() {
    SandboxProvider provider = SelfManagedE2E.providerIn(cluster, "datascience", "gvisor", 1);
    provider.getSpec().getRuntimes().removeIf(r -> r.getLanguage() == Language.JAVASCRIPT);
    provider.getSpec().getRuntimes().get(0).setImage(DATASCIENCE_IMAGE);
    provider.getSpec().getSelfManaged().getResources().setMemory("512Mi");
    cluster.create(provider);
    boolean imageMissing =
        await()
            .atMost(Duration.ofSeconds(120))
            .pollInterval(Duration.ofSeconds(2))
            .until(
                () -> {
                  List<Pod> pods =
                      cluster
                          .client()
                          .pods()
                          .inNamespace(cluster.namespace())
                          .withLabel(ApiConstants.PROVIDER_LABEL, "datascience")
                          .list()
                          .getItems();
                  boolean pullFailed =
                      pods.stream()
                          .flatMap(p -> p.getStatus().getContainerStatuses().stream())
                          .anyMatch(
                              s ->
                                  s.getState().getWaiting() != null
                                      && List.of(
                                              "ErrImagePull",
                                              "ImagePullBackOff",
                                              "ErrImageNeverPull")
                                          .contains(s.getState().getWaiting().getReason()));
                  boolean running =
                      pods.stream().anyMatch(p -> "Running".equals(p.getStatus().getPhase()));
                  return pullFailed || running ? pullFailed : null;
                },
                value -> value != null);
    Assumptions.assumeFalse(
        imageMissing,
        DATASCIENCE_IMAGE
            + " is not in the cluster (hack/build-runtime-image --variant datascience)");

    CodeExecution cx = TestResources.anExecution(cluster.namespace(), "chart", "datascience");
    cx.getSpec().setLanguage(Language.PYTHON);
    cx.getSpec().setCode(ArtifactScenarios.MATPLOTLIB_CHART);
    cx.getSpec().setArguments(null);
    cx.getSpec().setTimeoutSeconds(120);
    cluster.create(cx);
    CodeExecution done = cluster.awaitTerminal("chart", Duration.ofMinutes(4));
    assertThat(done.getStatus().getPhase())
        .as(done.getStatus().getMessage() + "\n" + done.getStatus().getStderr())
        .isEqualTo(Phase.SUCCEEDED);
    assertThat(done.getStatus().getArtifacts())
        .singleElement()
        .satisfies(
            artifact -> {
              assertThat(artifact.getName()).isEqualTo("figure-1.png");
              assertThat(artifact.getContentType()).isEqualTo("image/png");
              byte[] png = bytes(configMap(done), artifact);
              assertThat(new String(png, 1, 3, StandardCharsets.US_ASCII)).isEqualTo("PNG");
            });
  }
}
