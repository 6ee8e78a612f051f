package dev.sandboxes.operator.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionReason;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.ExecutionLimits;
import dev.sandboxes.api.v1alpha1.Phase;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.operator.codeexecution.StatusBudget;
import dev.sandboxes.operator.testing.DockerEngines;
import dev.sandboxes.operator.testing.TestResources;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A final status that the API server would refuse as it comes: output of control characters (six
 * bytes each once encoded) at the largest maxOutputBytes, a large result of characters Go escapes,
 * large arguments beside them, and an object that grows while the code runs. Each execution must
 * still end with a stored, terminal status. Real API server (etcd's 1.5 MiB object limit), real
 * Python on the podman runc engine.
 */
@Tag("e2e")
class FinalStatusFitsE2E {

  private static final String PROVIDER = "docker-runc";
  private static final int MAX_OUTPUT = 262144;

  /** Prints 256 KiB of control characters on each stream; returns ~240 KiB of JSON made of <&>. */
  private static final String NOISY =
      """
      import sys
      def main(**arguments):
          sys.stdout.write('\\x01' * 262144)
          sys.stderr.write('\\x1b' * 262144)
          sys.stdout.flush()
          sys.stderr.flush()
          if 'blob' in arguments:
              return len(arguments['blob'])
          return ['<&>' * 1000] * 80
      """;

  private static E2eCluster cluster;

  @BeforeAll
  static void start() {
    String host = DockerEngines.host("runc");
    cluster = E2eCluster.open("status-fits");
    cluster.startOperator();
    SandboxProvider provider = TestResources.aDockerProvider(cluster.namespace(), PROVIDER);
    provider.getSpec().getDocker().setHost(host);
    provider.getSpec().getDocker().setRuntime("runc");
    provider.getSpec().getDocker().setPoolSize(2);
    ExecutionLimits limits = new ExecutionLimits();
    limits.setMaxOutputBytes(MAX_OUTPUT); // the largest a provider may set
    provider.getSpec().setLimits(limits);
    cluster.create(provider);
    cluster.awaitReady(PROVIDER);
  }

  @AfterAll
  static void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  void controlCharacterOutputAndALargeResultEndInAStatusThatFits() {
    cluster.create(execution("noisy", NOISY, null));

    CodeExecution cx = cluster.awaitTerminal("noisy", Duration.ofMinutes(3));
    assertThat(cx.getStatus().getPhase())
        .as(cx.getStatus().getMessage())
        .isEqualTo(Phase.SUCCEEDED);
    assertThat(Conditions.reason(cx.getStatus().getConditions(), ConditionTypes.SUCCEEDED))
        .isEqualTo(CodeExecutionReason.COMPLETED.value());
    // The result went first, then the output was cut; the sizes say what there was.
    assertThat(cx.getStatus().getResult()).isNull();
    assertThat(cx.getStatus().getMessage())
        .contains("did not fit in the status and was dropped")
        .contains("Output was cut to fit the status");
    assertThat(cx.getStatus().getStdoutBytes()).isEqualTo(MAX_OUTPUT);
    assertThat(cx.getStatus().getStderrBytes()).isEqualTo(MAX_OUTPUT);
    assertThat(cx.getStatus().getStdoutTruncated()).isTrue();
    assertThat(cx.getStatus().getStderrTruncated()).isTrue();
    assertThat(cx.getStatus().getStdout()).isNotEmpty().matches("\u0001+");
    assertThat(cx.getStatus().getStderr()).isNotEmpty().matches("\u001b+");
    // About 1.5 MB of room: some 250,000 six-byte characters, half on each stream.
    assertThat(cx.getStatus().getStdout().length() + cx.getStatus().getStderr().length())
        .isBetween(200_000, 262_144);
    assertThat(storedBytes("noisy")).isLessThanOrEqualTo(StatusBudget.OBJECT_LIMIT_BYTES);
    cluster.awaitEvent("CodeExecution", "noisy", "Completed");
    System.out.printf(
        "FinalStatusFitsE2E: stored object %d bytes; kept %d of %d stdout characters%n",
        storedBytes("noisy"), cx.getStatus().getStdout().length(), MAX_OUTPUT);
  }

  @Test
  void largeArgumentsLeaveTheOutputLessRoomAndASmallResultStays() {
    cluster.create(execution("crowded", NOISY, Map.of("blob", "a".repeat(500_000))));

    CodeExecution cx = cluster.awaitTerminal("crowded", Duration.ofMinutes(3));
    assertThat(cx.getStatus().getPhase())
        .as(cx.getStatus().getMessage())
        .isEqualTo(Phase.SUCCEEDED);
    assertThat(cx.getStatus().getResult().asInt()).isEqualTo(500_000);
    assertThat(cx.getStatus().getMessage())
        .contains("Output was cut to fit the status")
        .doesNotContain("was dropped");
    // About 1 MB of room beside 500 KB of arguments: some 170,000 six-byte characters.
    assertThat(cx.getStatus().getStdout().length() + cx.getStatus().getStderr().length())
        .isBetween(100_000, 200_000);
    assertThat(storedBytes("crowded")).isLessThanOrEqualTo(StatusBudget.OBJECT_LIMIT_BYTES);
  }

  @Test
  void whenTheApiServerStillRefusesTheStatusTheVerdictIsWrittenWithoutOutput() {
    String code =
        "import time\n"
            + NOISY.replace(
                "def main(**arguments):\n", "def main(**arguments):\n    time.sleep(8)\n");
    cluster.create(execution("grown", code, Map.of("blob", "a".repeat(500_000))));
    await("grown started")
        .atMost(Duration.ofMinutes(2))
        .pollInterval(Duration.ofMillis(200))
        .until(
            () -> {
              CodeExecution current = cluster.execution("grown");
              return current.getStatus() != null && current.getStatus().getStartTime() != null;
            });
    // While it runs the object grows by 250 KB of annotations (their limit is 256 KiB): the room
    // the
    // status was given at the start is no longer there, and etcd refuses the final write.
    CodeExecution running = cluster.execution("grown");
    running.getMetadata().setAnnotations(Map.of("example.com/notes", "n".repeat(250_000)));
    cluster.client().resource(running).update();

    CodeExecution cx = cluster.awaitTerminal("grown", Duration.ofMinutes(3));
    assertThat(Conditions.reason(cx.getStatus().getConditions(), ConditionTypes.SUCCEEDED))
        .as(cx.getStatus().getMessage())
        .isEqualTo(CodeExecutionReason.COMPLETED.value());
    assertThat(cx.getStatus().getStdout()).isNull();
    assertThat(cx.getStatus().getStderr()).isNull();
    assertThat(cx.getStatus().getResult()).isNull();
    assertThat(cx.getStatus().getStdoutBytes()).isEqualTo(MAX_OUTPUT);
    assertThat(cx.getStatus().getStdoutTruncated()).isTrue();
    assertThat(cx.getStatus().getMessage())
        .contains("were not stored: the API server refused the status (HTTP 500");
    assertThat(storedBytes("grown")).isLessThanOrEqualTo(StatusBudget.OBJECT_LIMIT_BYTES);
  }

  private static CodeExecution execution(String name, String code, Map<String, Object> arguments) {
    CodeExecution cx = TestResources.anExecution(cluster.namespace(), name, PROVIDER);
    cx.getSpec().setCode(code);
    cx.getSpec().setArguments(arguments);
    cx.getSpec().setTimeoutSeconds(60);
    return cx;
  }

  /** The size of the object as the API server returns it. */
  private static long storedBytes(String name) {
    String json =
        cluster
            .client()
            .raw(
                "/apis/sandboxes.dev/v1alpha1/namespaces/"
                    + cluster.namespace()
                    + "/codeexecutions/"
                    + name);
    return json.getBytes(StandardCharsets.UTF_8).length;
  }
}
