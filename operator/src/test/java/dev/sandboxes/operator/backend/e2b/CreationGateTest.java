package dev.sandboxes.operator.backend.e2b;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.sandboxes.operator.backend.e2b.CreationGate.Admission;
import dev.sandboxes.operator.testing.MutableClock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The creation gate: backoff after quota refusals, one probe at a time, and the rejected-key stop.
 */
@Tag("unit")
class CreationGateTest {

  private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
  private final AtomicInteger wakeUps = new AtomicInteger();
  // Backoffs are read on a clock that stands still, so that a test thread a loaded machine runs
  // late does not see them expire; the wake-up timers run in real time.
  private final MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
  private final CreationGate gate =
      new CreationGate(
          clock,
          scheduler,
          Duration.ofMillis(300),
          Duration.ofMillis(1200),
          "test/e2b",
          wakeUps::incrementAndGet);

  @AfterEach
  void stop() {
    scheduler.shutdownNow();
  }

  @Test
  void anOpenGateGrantsEveryone() {
    assertThat(gate.admit(new Object())).isEqualTo(Admission.GRANTED);
    assertThat(gate.admit(new Object())).isEqualTo(Admission.GRANTED);
    assertThat(gate.remainingBackoff()).isZero();
  }

  @Test
  void aRefusalClosesTheGateThenLetsOneProbeThroughAndASuccessOpensIt() {
    Object refused = new Object();
    gate.refused(refused, null);

    assertThat(gate.admit(new Object())).isEqualTo(Admission.DENIED);
    assertThat(gate.remainingBackoff()).isEqualTo(Duration.ofMillis(300));
    await().until(() -> wakeUps.get() == 1);
    clock.advance(Duration.ofMillis(300));

    Object probe = new Object();
    assertThat(gate.admit(probe)).isEqualTo(Admission.PROBE);
    assertThat(gate.admit(new Object())).as("one probe at a time").isEqualTo(Admission.DENIED);

    gate.created();
    assertThat(gate.admit(new Object())).isEqualTo(Admission.GRANTED);
    assertThat(wakeUps.get()).as("reopening wakes the queue").isEqualTo(2);
  }

  @Test
  void repeatedRefusalsDoubleTheBackoffUpToTheMaximumAndHonourRetryAfter() {
    gate.refused(new Object(), null);
    assertThat(gate.remainingBackoff()).isEqualTo(Duration.ofMillis(300));
    gate.refused(new Object(), null);
    assertThat(gate.remainingBackoff()).isEqualTo(Duration.ofMillis(600));
    gate.refused(new Object(), Duration.ofSeconds(30));
    assertThat(gate.remainingBackoff())
        .as("Retry-After, capped at the maximum")
        .isEqualTo(Duration.ofMillis(1200));
  }

  @Test
  void anAbandonedProbeFreesTheSlotAndWakesTheQueue() {
    gate.refused(new Object(), null);
    await().until(() -> wakeUps.get() == 1);
    clock.advance(Duration.ofMillis(300));
    Object probe = new Object();
    assertThat(gate.admit(probe)).isEqualTo(Admission.PROBE);

    gate.abandoned(new Object()); // not the probe: nothing changes
    assertThat(gate.admit(new Object())).isEqualTo(Admission.DENIED);
    gate.abandoned(probe);

    assertThat(wakeUps.get()).isEqualTo(2);
    assertThat(gate.admit(new Object())).isEqualTo(Admission.PROBE);
  }

  @Test
  void aRejectedKeyDeniesEveryoneUntilAProbeAcceptsIt() {
    gate.credentialsRejected();
    assertThat(gate.admit(new Object())).isEqualTo(Admission.DENIED);
    assertThat(gate.isOpen()).isFalse();

    gate.credentialsAccepted();

    assertThat(gate.admit(new Object())).isEqualTo(Admission.GRANTED);
    assertThat(wakeUps.get()).isEqualTo(1);
    gate.credentialsAccepted();
    assertThat(wakeUps.get()).as("no wake-up when nothing changed").isEqualTo(1);
  }
}
