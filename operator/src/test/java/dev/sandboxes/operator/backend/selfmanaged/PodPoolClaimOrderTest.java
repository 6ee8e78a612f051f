package dev.sandboxes.operator.backend.selfmanaged;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Which idle pod a claim takes first: one whose runner already waits, then the oldest. */
@Tag("unit")
class PodPoolClaimOrderTest {

  private static final Pod OLDEST = pod("sbx-a", "2026-12-07T10:00:00Z");
  private static final Pod MIDDLE = pod("sbx-b", "2026-12-07T10:00:05Z");
  private static final Pod NEWEST = pod("sbx-c", "2026-12-07T10:00:09Z");
  private static final Pod NEWEST_TWIN = pod("sbx-d", "2026-12-07T10:00:09Z");

  @Test
  void aPodWhoseRunnerWaitsComesBeforeOlderPodsWithout() {
    assertThat(order(Set.of("sbx-c"), OLDEST, MIDDLE, NEWEST))
        .containsExactly("sbx-c", "sbx-a", "sbx-b");
  }

  @Test
  void amongPodsAlikeTheOldestComesFirstAndTheNameBreaksTies() {
    assertThat(order(Set.of(), NEWEST_TWIN, NEWEST, MIDDLE, OLDEST))
        .containsExactly("sbx-a", "sbx-b", "sbx-c", "sbx-d");
    assertThat(order(Set.of("sbx-a", "sbx-d", "sbx-c"), NEWEST_TWIN, NEWEST, MIDDLE, OLDEST))
        .containsExactly("sbx-a", "sbx-c", "sbx-d", "sbx-b");
  }

  private static List<String> order(Set<String> waiting, Pod... pods) {
    return List.of(pods).stream()
        .sorted(PodPool.claimOrder(waiting::contains))
        .map(SandboxPods::name)
        .toList();
  }

  private static Pod pod(String name, String created) {
    return new PodBuilder()
        .withNewMetadata()
        .withName(name)
        .withCreationTimestamp(created)
        .endMetadata()
        .build();
  }
}
