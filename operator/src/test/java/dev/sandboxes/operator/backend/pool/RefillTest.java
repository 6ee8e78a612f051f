package dev.sandboxes.operator.backend.pool;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The refill rule both warm pools follow. */
@Tag("unit")
class RefillTest {

  @Test
  void startsWhatIsMissingUpToTheTarget() {
    assertThat(Refill.plan(2, 0, 0, false)).isEqualTo(new Refill(2, 0));
    assertThat(Refill.plan(2, 1, 0, false)).isEqualTo(new Refill(1, 0));
    assertThat(Refill.plan(2, 1, 1, false)).isEqualTo(new Refill(0, 0));
  }

  @Test
  void aFullPoolStartsNothingEvenOnDemand() {
    assertThat(Refill.plan(2, 2, 0, true)).isEqualTo(new Refill(0, 0));
  }

  @Test
  void demandStartsOneWhenNothingIsIdleOrComing() {
    assertThat(Refill.plan(0, 0, 0, true)).isEqualTo(new Refill(1, 0));
    assertThat(Refill.plan(0, 0, 0, false)).isEqualTo(new Refill(0, 0));
    // One on its way already answers the demand.
    assertThat(Refill.plan(0, 0, 1, true)).isEqualTo(new Refill(0, 0));
  }

  @Test
  void creationsInFlightStayWithinTheTargetButAtLeastTwo() {
    assertThat(Refill.plan(10, 0, 0, false).toStart()).isEqualTo(10);
    assertThat(Refill.plan(10, 0, 4, false).toStart()).isEqualTo(6);
    assertThat(Refill.plan(1, 0, 2, true).toStart()).isZero();
  }

  @Test
  void idleSandboxesAboveTheTargetAreSurplus() {
    assertThat(Refill.plan(2, 5, 0, false)).isEqualTo(new Refill(0, 3));
    // Creations under way are not surplus: they are not idle yet.
    assertThat(Refill.plan(2, 2, 3, false)).isEqualTo(new Refill(0, 0));
    assertThat(Refill.plan(2, 3, 3, false)).isEqualTo(new Refill(0, 1));
  }
}
