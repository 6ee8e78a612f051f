package dev.sandboxes.operator.backend.e2b;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.sandboxes.operator.backend.e2b.CreationGate.Admission;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The creation gate: backoff after quota refusals, one probe at a time, and the rejected-key stop. */
class CreationGateTest {

  private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
  private final AtomicInteger wakeUps = new AtomicInteger();
  private final CreationGate gate =
      new CreationGate(Clock.systemUTC(), scheduler, Duration.ofMillis(300), Duration.ofMillis(1200), "test/e2b");

  CreationGateTest() {
    gate.setListener(wakeUps::incrementAndGet);
  }

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
    assertThat(gate.remainingBackoff()).isPositive().isLessThanOrEqualTo(Duration.ofMillis(300));
    await().atMost(Duration.ofSeconds(2)).until(() -> wakeUps.get() == 1);

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
    assertThat(gate.remainingBackoff()).isLessThanOrEqualTo(Duration.ofMillis(300));
    gate.refused(new Object(), null);
    assertThat(gate.remainingBackoff()).isGreaterThan(Duration.ofMillis(300)).isLessThanOrEqualTo(Duration.ofMillis(600));
    gate.refused(new Object(), Duration.ofSeconds(30));
    assertThat(gate.remainingBackoff()).as("Retry-After, capped at the maximum")
        .isGreaterThan(Duration.ofMillis(900)).isLessThanOrEqualTo(Duration.ofMillis(1200));
  }

  @Test
  void anAbandonedProbeFreesTheSlotAndWakesTheQueue() {
    gate.refused(new Object(), null);
    await().atMost(Duration.ofSeconds(2)).until(() -> wakeUps.get() == 1);
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
