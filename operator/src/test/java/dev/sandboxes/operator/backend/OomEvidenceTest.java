package dev.sandboxes.operator.backend;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sandboxes.operator.backend.OomEvidence.OomKills;
import dev.sandboxes.operator.backend.OomEvidence.Verdict;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The one rule for "was it the memory limit?", and the exact words the SelfManaged and Docker
 * outcomes carry.
 */
@Tag("unit")
class OomEvidenceTest {

  private final OomEvidence pod = new OomEvidence("sandbox pod", "256Mi");
  private final OomEvidence container = new OomEvidence("sandbox", "256 MiB");

  @Test
  void theCountComesFromEitherCgroupVersionAndTheHighestCounterWins() {
    String v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n";
    String v2 = "low 0\nhigh 0\nmax 12\noom 3\noom_kill 1\noom_group_kill 0\n";
    assertThat(OomKills.parse(v1, "none")).isEqualTo(new OomKills(2, null));
    assertThat(OomKills.parse(v2, "none")).isEqualTo(new OomKills(1, null));
    assertThat(OomKills.parse(v1 + v2, "none").count()).isEqualTo(2);
    assertThat(OomKills.parse("oom_kill 0\n", "none")).isEqualTo(new OomKills(0, null));
    // gVisor has neither file: cat prints only its complaints.
    OomKills none =
        OomKills.parse(
            "cat: /sys/fs/cgroup/memory.events: No such file or directory\n", "no counter");
    assertThat(none.readable()).isFalse();
    assertThat(none.problem()).isEqualTo("no counter");
    assertThat(OomKills.parse("oom_kill 12345678901234567890\n", null).readable())
        .as("absurd counts are ignored")
        .isFalse();
  }

  @Test
  void onlyASigkillBeforeTheRunnersDoneRecordAsksForTheCount() {
    assertThat(OomEvidence.sigkilledBeforeDone(137, false)).isTrue();
    assertThat(OomEvidence.sigkilledBeforeDone(137L, false)).isTrue();
    assertThat(OomEvidence.sigkilledBeforeDone(137, true))
        .as("the runner finished: the code's own exit")
        .isFalse();
    assertThat(OomEvidence.sigkilledBeforeDone(1, false)).isFalse();
    assertThat(OomEvidence.sigkilledBeforeDone(null, false)).isFalse();
  }

  @Test
  void aCountedKillIsTheMemoryLimit() {
    assertThat(pod.afterSigkill(new OomKills(1, null)))
        .isEqualTo(
            new Verdict(
                true,
                "The kernel's OOM killer stopped the program at the sandbox pod's memory limit of 256Mi"
                    + " (the memory cgroup counted 1 OOM kill)"));
    assertThat(container.afterSigkill(new OomKills(3, null)))
        .isEqualTo(
            new Verdict(
                true,
                "The kernel's OOM killer stopped the program at the sandbox's memory limit of 256 MiB"
                    + " (the memory cgroup counted 3 OOM kills)"));
  }

  @Test
  void noCountedKillOrNoCountIsNotTheMemoryLimitAndSaysWhy() {
    assertThat(pod.afterSigkill(new OomKills(0, null)))
        .isEqualTo(
            new Verdict(
                false,
                "The sandbox pod's memory cgroup recorded no OOM kill, so it was not the memory limit"));
    assertThat(pod.afterSigkill(OomKills.unreadable(null)))
        .isEqualTo(
            new Verdict(
                false,
                "The sandbox pod's memory cgroup could not be read, so nothing shows that the memory limit sent it"));
    assertThat(container.afterSigkill(OomKills.unreadable("the probe did not finish")))
        .isEqualTo(
            new Verdict(
                false,
                "The sandbox's memory cgroup could not be read (the probe did not finish), so nothing shows that the memory"
                    + " limit sent it"));
  }

  @Test
  void aSandboxStoppedAsAWholeNamesItsLimit() {
    assertThat(pod.sandboxStopped())
        .isEqualTo("The sandbox pod was stopped at its memory limit of 256Mi");
    assertThat(container.sandboxStopped())
        .isEqualTo("The sandbox was stopped at its memory limit of 256 MiB");
  }
}
