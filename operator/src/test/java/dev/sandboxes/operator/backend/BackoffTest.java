package dev.sandboxes.operator.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A provider's backoff doubles to its ceiling, starts over on success, and yields to a longer hint.
 */
@Tag("unit")
class BackoffTest {

  @Test
  void doublesUpToTheCeilingAndStartsOver() {
    Backoff backoff = new Backoff(Duration.ofSeconds(1), Duration.ofSeconds(5));
    assertThat(backoff.next()).isEqualTo(Duration.ofSeconds(1));
    assertThat(backoff.next()).isEqualTo(Duration.ofSeconds(2));
    assertThat(backoff.next()).isEqualTo(Duration.ofSeconds(4));
    assertThat(backoff.next()).isEqualTo(Duration.ofSeconds(5));
    assertThat(backoff.next()).isEqualTo(Duration.ofSeconds(5));
    backoff.reset();
    assertThat(backoff.next()).isEqualTo(Duration.ofSeconds(1));
  }

  @Test
  void aFirstWaitOverTheCeilingIsTheCeiling() {
    assertThat(new Backoff(Duration.ofSeconds(9), Duration.ofSeconds(5)).next())
        .isEqualTo(Duration.ofSeconds(5));
    assertThatThrownBy(() -> new Backoff(Duration.ofSeconds(-1), Duration.ofSeconds(5)))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aLongerHintWinsUpToTheCeilingAndAShorterOneDoesNot() {
    Duration second = Duration.ofSeconds(1);
    assertThat(Backoff.honouring(Duration.ofSeconds(3), second, null))
        .isEqualTo(Duration.ofSeconds(3));
    assertThat(Backoff.honouring(Duration.ofSeconds(3), second, Duration.ofSeconds(2)))
        .isEqualTo(Duration.ofSeconds(2));
    assertThat(Backoff.honouring(Duration.ofMillis(10), second, null)).isEqualTo(second);
    assertThat(Backoff.honouring(null, second, null)).isEqualTo(second);
  }
}
