package dev.sandboxes.operator.backend.selfmanaged;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sandboxes.operator.testing.MutableClock;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class PoolSizerTest {

  private final MutableClock clock = new MutableClock(Instant.parse("2026-12-06T12:00:00Z"));

  @Test
  void withoutArrivalsThePoolStaysAtItsMinimum() {
    PoolSizer sizer = new PoolSizer(2, 10, clock);
    assertThat(sizer.target()).isEqualTo(2);
    assertThat(sizer.arrivalsPerSecond()).isZero();
    assertThat(sizer.startTime()).isEqualTo(PoolSizer.ASSUMED_START);
  }

  @Test
  void theTargetIsTheMinimumPlusArrivalRateTimesStartTime() {
    PoolSizer sizer = new PoolSizer(2, 50, clock);
    sizer.started(Duration.ofSeconds(3));
    // 1 arrival every 500 ms for 30 s: 2/s, so 2/s × 3 s = 6 pods on their way.
    for (int i = 0; i < 60; i++) {
      clock.advance(Duration.ofMillis(500));
      sizer.claimed();
    }
    assertThat(sizer.arrivalsPerSecond()).isEqualTo(2.0);
    assertThat(sizer.target()).isEqualTo(2 + 6);
  }

  @Test
  void theTargetNeverPassesMaxPoolSize() {
    PoolSizer sizer = new PoolSizer(2, 5, clock);
    sizer.started(Duration.ofSeconds(10));
    for (int i = 0; i < 300; i++) {
      sizer.claimed();
      clock.advance(Duration.ofMillis(100));
    }
    assertThat(sizer.target()).isEqualTo(5);
  }

  @Test
  void eachMissRaisesTheTargetByOneUntilTheWindowPasses() {
    PoolSizer sizer = new PoolSizer(1, 10, clock);
    sizer.missed();
    sizer.missed();
    sizer.missed();
    assertThat(sizer.target()).isEqualTo(4);
    clock.advance(PoolSizer.WINDOW.plusSeconds(1));
    assertThat(sizer.target()).isEqualTo(1);
  }

  @Test
  void whenArrivalsStopThePoolShrinksBackToItsMinimumAfterTheWindow() {
    PoolSizer sizer = new PoolSizer(2, 20, clock);
    sizer.started(Duration.ofSeconds(4));
    for (int i = 0; i < 30; i++) {
      sizer.claimed();
      clock.advance(Duration.ofSeconds(1));
    }
    assertThat(sizer.target()).isEqualTo(2 + 4); // 1/s × 4 s
    clock.advance(Duration.ofSeconds(15));
    assertThat(sizer.target()).as("half the window later, half the rate").isEqualTo(2 + 2);
    clock.advance(PoolSizer.WINDOW);
    assertThat(sizer.target()).isEqualTo(2);
    assertThat(sizer.arrivalsPerSecond()).isZero();
  }

  @Test
  void theStartTimeIsAMovingAverageOfMeasuredStarts() {
    PoolSizer sizer = new PoolSizer(0, 10, clock);
    sizer.started(Duration.ofSeconds(2));
    assertThat(sizer.startTime()).isEqualTo(Duration.ofSeconds(2));
    sizer.started(Duration.ofSeconds(12));
    assertThat(sizer.startTime()).isEqualTo(Duration.ofSeconds(5)); // 0.3 × 12 + 0.7 × 2
  }

  @Test
  void aMaximumBelowTheMinimumIsTheMinimum() {
    PoolSizer sizer = new PoolSizer(3, 1, clock);
    sizer.missed();
    assertThat(sizer.target()).isEqualTo(3);
  }
}
