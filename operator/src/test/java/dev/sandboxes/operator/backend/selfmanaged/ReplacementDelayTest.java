package dev.sandboxes.operator.backend.selfmanaged;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * When a claimed pod's replacement waits: only while other idle pods remain, no claim went
 * unserved, and for at most {@link PodPool#REPLACEMENT_DELAY} after the claim.
 */
@Tag("unit")
class ReplacementDelayTest {

  private static final Instant NOW = Instant.parse("2026-12-07T10:00:00Z");
  private static final Instant JUST_NOW = NOW.minusMillis(200);
  private static final Instant LONG_AGO = NOW.minus(PodPool.REPLACEMENT_DELAY).minusMillis(1);

  @Test
  void aPodClaimedAMomentAgoIsReplacedLaterWhileOtherIdlePodsRemain() {
    assertThat(PodPool.deferredReplacements(List.of(JUST_NOW), NOW, 2, false)).isEqualTo(1);
    assertThat(PodPool.deferredReplacements(List.of(JUST_NOW, JUST_NOW), NOW, 1, false))
        .isEqualTo(2);
  }

  @Test
  void afterTheDelayTheReplacementIsDueEvenIfTheRunGoesOn() {
    assertThat(PodPool.deferredReplacements(List.of(LONG_AGO, JUST_NOW), NOW, 2, false))
        .isEqualTo(1);
  }

  @Test
  void theLastIdlePodOrAnUnservedClaimIsReplacedAtOnce() {
    assertThat(PodPool.deferredReplacements(List.of(JUST_NOW), NOW, 0, false)).isZero();
    assertThat(PodPool.deferredReplacements(List.of(JUST_NOW), NOW, 2, true)).isZero();
  }
}
