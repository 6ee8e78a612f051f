package dev.sandboxes.operator.codeexecution;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.sandboxes.api.v1alpha1.ExecutionMode;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.operator.backend.SandboxLease;
import dev.sandboxes.operator.execution.ExecutionOutcome;
import dev.sandboxes.operator.execution.ExecutionRequest;
import dev.sandboxes.operator.execution.Termination;
import dev.sandboxes.operator.testing.FakeSandboxBackend;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** A shutdown's drain and the starts under way when it begins. */
@Tag("unit")
class ExecutionTrackerTest {

  private final List<ResourceID> triggered = new CopyOnWriteArrayList<>();
  private final ExecutionQueue queue = new ExecutionQueue(id -> {});
  private final ExecutionTracker tracker =
      new ExecutionTracker(queue, triggered::add, Clock.systemUTC());

  @AfterEach
  void close() {
    tracker.close();
  }

  @Test
  void aDrainWaitsForAStartWrittenJustBeforeItAndCancelsThatRun() throws Exception {
    FakeSandboxBackend backend = new FakeSandboxBackend(1).gate("late");
    // The reconcile thread is between its Started write and handing the run to the tracker.
    assertThat(tracker.beginStart()).isTrue();

    CompletableFuture<Void> drained =
        CompletableFuture.runAsync(() -> tracker.drain(Duration.ofSeconds(30)));
    // The drain has begun once it refuses new starts; it cannot end while the start is under way.
    while (tracker.beginStart()) {
      tracker.endStart();
      Thread.onSpinWait();
    }
    assertThat(drained).isNotDone();

    SandboxLease lease = backend.tryAcquire(Language.PYTHON).orElseThrow();
    ExecutionTracker.Run run =
        tracker.start(
            new ResourceID("late", "ns"),
            "uid-late",
            "provider",
            backend,
            lease,
            request("late"),
            0);
    tracker.endStart();

    // The run was tracked in time, so the drain finds it: nothing is left Running untracked. It
    // waits out its grace for the run, which is gated, so this test opens the gate only after
    // checking that the run is the drain's to end.
    assertThat(tracker.active()).containsExactly(run);
    backend.open("late");
    drained.get(30, TimeUnit.SECONDS);
    await(run);
    assertThat(run.outcome().orElseThrow().termination()).isEqualTo(Termination.EXITED);
    assertThat(triggered).containsExactly(new ResourceID("late", "ns"));
  }

  @Test
  void aRunStillGoingAtTheEndOfTheGraceIsCancelledWithTheShutdownAsReason() throws Exception {
    FakeSandboxBackend backend = new FakeSandboxBackend(1).gate("long");
    assertThat(tracker.beginStart()).isTrue();
    SandboxLease lease = backend.tryAcquire(Language.PYTHON).orElseThrow();
    ExecutionTracker.Run run =
        tracker.start(
            new ResourceID("long", "ns"),
            "uid-long",
            "provider",
            backend,
            lease,
            request("long"),
            0);
    tracker.endStart();

    tracker.drain(Duration.ofMillis(200));

    await(run);
    ExecutionOutcome outcome = run.outcome().orElseThrow();
    assertThat(outcome.termination()).isEqualTo(Termination.CANCELLED);
    assertThat(outcome.detail()).contains("operator shut down");
  }

  @Test
  void afterADrainBeganNoStartBegins() {
    assertThat(tracker.beginStart()).isTrue();
    tracker.endStart();
    tracker.drain(Duration.ZERO);
    assertThat(tracker.beginStart()).isFalse();
  }

  @Test
  void aRunsOutcomeCountsAsStoredOnceItIsForgottenOrCancelled() throws Exception {
    FakeSandboxBackend backend = new FakeSandboxBackend(2);
    ExecutionTracker.Run stored = startedRun(backend, "stored");
    ExecutionTracker.Run deleted = startedRun(backend, "deleted");
    await(stored);
    assertThat(stored.control().outcomeStored()).as("ended, not stored yet").isNotDone();

    tracker.forget("uid-stored");
    tracker.cancel("uid-deleted");

    assertThat(stored.control().outcomeStored()).isCompleted();
    assertThat(deleted.control().outcomeStored()).isCompleted();
  }

  private ExecutionTracker.Run startedRun(FakeSandboxBackend backend, String name) {
    assertThat(tracker.beginStart()).isTrue();
    try {
      return tracker.start(
          new ResourceID(name, "ns"),
          "uid-" + name,
          "provider",
          backend,
          backend.tryAcquire(Language.PYTHON).orElseThrow(),
          request(name),
          0);
    } finally {
      tracker.endStart();
    }
  }

  private static void await(ExecutionTracker.Run run) throws InterruptedException {
    // The run's thread sets the outcome and then triggers; the trigger list is the latch.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (run.outcome().isEmpty() && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
  }

  private static ExecutionRequest request(String name) {
    return new ExecutionRequest(
        "ns",
        name,
        "uid-" + name,
        Language.PYTHON,
        ExecutionMode.FUNCTION,
        "main",
        "pass",
        JsonNodeFactory.instance.objectNode(),
        Duration.ofSeconds(30),
        65536);
  }
}
