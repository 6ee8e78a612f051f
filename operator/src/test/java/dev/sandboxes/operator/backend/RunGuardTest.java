package dev.sandboxes.operator.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A run ends once: on its own, at its deadline or cancelled, and a stop ends every wait and call at
 * once.
 */
@Tag("unit")
class RunGuardTest {

  private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();

  @AfterEach
  void stopScheduler() {
    scheduler.shutdownNow();
  }

  @Test
  void theFirstOfEndDeadlineAndCancellationStands() {
    RunGuard ended = new RunGuard();
    assertThat(ended.end()).isTrue();
    assertThat(ended.stop(RunGuard.Stop.DEADLINE))
        .as("too late: the run ended on its own")
        .isFalse();
    assertThat(ended.state()).isEqualTo(RunGuard.Stop.ENDED);
    assertThat(ended.stopped()).isFalse();
    assertThat(ended.signal()).isNotDone();

    RunGuard cancelled = new RunGuard();
    assertThat(cancelled.stop(RunGuard.Stop.CANCELLED)).isTrue();
    assertThat(cancelled.stop(RunGuard.Stop.DEADLINE)).isFalse();
    assertThat(cancelled.end()).as("its outcome is the stop's").isFalse();
    assertThat(cancelled.state()).isEqualTo(RunGuard.Stop.CANCELLED);
    assertThat(cancelled.signal()).isCompletedWithValue(RunGuard.Stop.CANCELLED);
  }

  @Test
  void onlyADeadlineOrACancellationStopsARun() {
    assertThatThrownBy(() -> new RunGuard().stop(RunGuard.Stop.ENDED))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aStopCancelsTheWatchedCallsAndRunsItsActionsOnce() {
    RunGuard guard = new RunGuard();
    CompletableFuture<String> inFlight = new CompletableFuture<>();
    CompletableFuture<String> finished = new CompletableFuture<>();
    AtomicInteger actions = new AtomicInteger();
    guard.watch(inFlight);
    guard.watch(finished);
    guard.unwatch(finished);
    guard.onStop(actions::incrementAndGet);

    guard.stop(RunGuard.Stop.DEADLINE);
    guard.stop(RunGuard.Stop.CANCELLED);
    assertThat(inFlight).isCancelled();
    assertThat(finished).isNotCancelled();
    assertThat(actions).hasValue(1);

    CompletableFuture<String> late = new CompletableFuture<>();
    guard.watch(late);
    guard.onStop(actions::incrementAndGet);
    assertThat(late).as("a call started after the stop is cancelled at once").isCancelled();
    assertThat(actions).as("an action added after the stop runs at once").hasValue(2);
  }

  @Test
  void theDeadlineStopsTheRunAndEndsItsWaits() throws Exception {
    RunGuard guard = new RunGuard();
    guard.deadlineAfter(Duration.ofMillis(50), scheduler);
    assertThat(guard.awaitStop(Duration.ofSeconds(30))).isTrue();
    assertThat(guard.state()).isEqualTo(RunGuard.Stop.DEADLINE);
    assertThatThrownBy(guard::check)
        .isInstanceOf(RunGuard.StoppedException.class)
        .hasMessage("the time limit passed");
    assertThatThrownBy(() -> guard.sleep(Duration.ofMinutes(5)))
        .isInstanceOfSatisfying(
            RunGuard.StoppedException.class,
            e -> assertThat(e.stop()).isEqualTo(RunGuard.Stop.DEADLINE));
  }

  @Test
  void aGuardNobodyStopsLetsWaitsRunTheirCourse() throws Exception {
    RunGuard never = RunGuard.never();
    never.check();
    never.sleep(Duration.ofMillis(10));
    assertThat(never.awaitStop(Duration.ofMillis(10))).isFalse();
    assertThat(never.state()).isEqualTo(RunGuard.Stop.NONE);
  }

  @Test
  void aCancellationIsNamedAsSuch() {
    RunGuard guard = new RunGuard();
    guard.stop(RunGuard.Stop.CANCELLED);
    assertThatThrownBy(guard::check).hasMessage("the execution was cancelled");
  }
}
