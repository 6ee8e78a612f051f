package dev.sandboxes.operator.backend.selfmanaged;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.ErrorStreamMessage;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.server.mock.OutputStreamMessage;
import io.fabric8.kubernetes.client.server.mock.StatusStreamMessage;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The fabric8 exec path of KubernetesPodExec against a scripted pods/exec websocket on the mock.
 */
@Tag("mock")
@EnableKubernetesMockClient(crud = true)
class KubernetesPodExecMockTest {

  private static final String NS = "team-a";
  private static final String EXEC_PATH =
      "/api/v1/namespaces/team-a/pods/sbx-1/exec?command=python3&command=-c&command=pass&container=sandbox"
          + "&stdin=true&stdout=true&stderr=true";

  /**
   * No stdin: the mock server's websocket closes with 1002 on any message it was not scripted to
   * expect, and when a stdin frame arrives relative to the emitted frames is a race.
   */
  private static final byte[] NO_STDIN = new byte[0];

  KubernetesClient client;
  KubernetesMockServer server;

  @BeforeEach
  void runningPod() {
    Pod pod =
        client
            .resource(
                new PodBuilder()
                    .withNewMetadata()
                    .withName("sbx-1")
                    .withNamespace(NS)
                    .endMetadata()
                    .withNewSpec()
                    .addNewContainer()
                    .withName("sandbox")
                    .withImage("i")
                    .endContainer()
                    .endSpec()
                    .build())
            .create();
    client
        .pods()
        .inNamespace(NS)
        .resource(new PodBuilder(pod).withNewStatus().withPhase("Running").endStatus().build())
        .updateStatus();
  }

  @Test
  void outputReachesTheSinksBeforeTheExitCode() throws Exception {
    server
        .expect()
        .get()
        .withPath(EXEC_PATH)
        .andUpgradeToWebSocket()
        .open()
        .waitFor(50)
        .andEmit(new OutputStreamMessage("to stdout\n"))
        .waitFor(10)
        .andEmit(new ErrorStreamMessage("to stderr\n"))
        .waitFor(10)
        .andEmit(new StatusStreamMessage(3))
        .done()
        .once();
    ByteArrayOutputStream stdout = new ByteArrayOutputStream();
    ByteArrayOutputStream stderr = new ByteArrayOutputStream();

    PodExec.Running running =
        new KubernetesPodExec(client)
            .start(
                NS, "sbx-1", "sandbox", List.of("python3", "-c", "pass"), NO_STDIN, stdout, stderr);

    assertThat(running.exitCode().get(10, TimeUnit.SECONDS)).isEqualTo(3);
    assertThat(stdout.toString(StandardCharsets.UTF_8)).isEqualTo("to stdout\n");
    assertThat(stderr.toString(StandardCharsets.UTF_8)).isEqualTo("to stderr\n");
    running.close();
  }

  @Test
  void aStreamThatEndsWithoutAnExitStatusIsBroken() {
    server
        .expect()
        .get()
        .withPath(EXEC_PATH)
        .andUpgradeToWebSocket()
        .open()
        .waitFor(50)
        .andEmit(new OutputStreamMessage("partial"))
        .done()
        .once();

    PodExec.Running running =
        new KubernetesPodExec(client)
            .start(
                NS,
                "sbx-1",
                "sandbox",
                List.of("python3", "-c", "pass"),
                NO_STDIN,
                new ByteArrayOutputStream(),
                new ByteArrayOutputStream());

    assertThatThrownBy(() -> running.exitCode().get(10, TimeUnit.SECONDS))
        .isInstanceOf(ExecutionException.class)
        .hasCauseInstanceOf(PodExec.StreamBrokenException.class);
  }
}
