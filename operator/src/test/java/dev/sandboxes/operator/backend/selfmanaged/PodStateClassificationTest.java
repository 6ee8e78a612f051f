package dev.sandboxes.operator.backend.selfmanaged;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** What PodExecution reads from the status of a sandbox pod whose run did not end by itself. */
@Tag("unit")
class PodStateClassificationTest {

  @Test
  void theKubeletsOomKilledReasonIsOutOfMemory() {
    PodExecution.PodState state = PodExecution.classify(terminatedPod(137, "OOMKilled", null));

    assertThat(state.oomKilled()).isTrue();
  }

  /** What hack/gvisor/runsc-k8s reports when the pod's memory cgroup killed the whole sandbox. */
  @Test
  void aGvisorSandboxKilledAtItsMemoryLimitIsOutOfMemoryEvenWithoutTheKubeletsReason() {
    PodExecution.PodState state =
        PodExecution.classify(
            terminatedPod(
                137,
                "Error",
                "sandbox killed: out of memory (the pod's memory cgroup killed gVisor's sandbox; oom_kill 1)"));

    assertThat(state.oomKilled()).isTrue();
  }

  @Test
  void aGvisorSandboxThatDiedOtherwiseIsASandboxFailureThatSaysSo() {
    PodExecution.PodState state =
        PodExecution.classify(
            terminatedPod(
                137,
                "Error",
                "sandbox killed: the gVisor sandbox died (no out-of-memory kill in the pod's memory cgroup)"));

    assertThat(state.oomKilled()).isFalse();
    assertThat(state.failed()).isTrue();
    assertThat(state.evidence()).contains("the gVisor sandbox died");
  }

  @Test
  void aContainerKilledWithoutEvidenceOfTheMemoryLimitIsNotOutOfMemory() {
    PodExecution.PodState state = PodExecution.classify(terminatedPod(137, "Error", null));

    assertThat(state.oomKilled()).isFalse();
    assertThat(state.failed()).isTrue();
    assertThat(state.evidence()).contains("exited with code 137");
  }

  @Test
  void theOomMessageCountsOnlyWithTheExitOfAKilledContainer() {
    PodExecution.PodState state =
        PodExecution.classify(terminatedPod(0, "Completed", "sandbox killed: out of memory"));

    assertThat(state.oomKilled()).isFalse();
    assertThat(state.failed()).isTrue();
  }

  @Test
  void onlyTheWaysADyingSandboxEndsARunWaitForThePodToShowWhy() {
    // runsc exec after the sandbox died: 128 and the lost urpc connection on stderr.
    assertThat(
            PodExecution.maybeSandboxDeath(
                128, "urpc method \"containerManager.WaitPID\" failed: EOF"))
        .isTrue();
    assertThat(PodExecution.maybeSandboxDeath(137, "")).isTrue();
    assertThat(PodExecution.maybeSandboxDeath(null, null)).isTrue();
    // The code's own exit(128) or exit(1) is taken at once.
    assertThat(PodExecution.maybeSandboxDeath(128, "")).isFalse();
    assertThat(PodExecution.maybeSandboxDeath(1, "urpc method failed: EOF")).isFalse();
  }

  private static Pod terminatedPod(int exitCode, String reason, String message) {
    return new PodBuilder()
        .withNewMetadata()
        .withName("pool-python-abc")
        .withNamespace("team")
        .endMetadata()
        .withNewStatus()
        .withPhase("Failed")
        .addNewContainerStatus()
        .withName(SandboxPodTemplate.CONTAINER)
        .withNewState()
        .withNewTerminated()
        .withExitCode(exitCode)
        .withReason(reason)
        .withMessage(message)
        .endTerminated()
        .endState()
        .endContainerStatus()
        .endStatus()
        .build();
  }
}
