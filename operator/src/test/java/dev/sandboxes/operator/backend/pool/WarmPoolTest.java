package dev.sandboxes.operator.backend.pool;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.operator.backend.StartFailures;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The in-memory warm pool, step by step: the test runs the pool's tasks itself, completes the
 * removals itself and moves the clock itself, so nothing here depends on timing.
 */
@Tag("unit")
class WarmPoolTest {

  private final ManualThreads threads = new ManualThreads();
  private final FakeSandboxes sandboxes = new FakeSandboxes();
  private final AtomicLong nanoTime = new AtomicLong();
  private final StartFailures startFailures = new StartFailures(text -> text);
  private final CountingSlots slots = new CountingSlots(10);

  /** What the capacity listener saw each time it was told: the slots in use then. */
  private final List<Integer> signals = new ArrayList<>();

  @Test
  void fillsToItsSizeAndHandsEachSandboxToOneClaimOnly() {
    WarmPool<String> pool = pool(2);
    pool.start();
    assertThat(pool.starting()).isEqualTo(2);
    assertThat(pool.status().getReady()).isZero();

    threads.runQueued();
    assertThat(pool.status().getReady()).isEqualTo(2);
    assertThat(pool.status().getDesired()).isEqualTo(2);
    assertThat(signals).hasSize(2);

    assertThat(pool.take()).contains("sbx-1");
    // One is still idle: its replacement waits, so that starts do not compete with the run.
    assertThat(threads.queued()).isZero();
    assertThat(pool.take()).contains("sbx-2");
    // The last idle one is gone: the pool refills at once.
    assertThat(pool.starting()).isEqualTo(2);
    assertThat(pool.take()).isEmpty();
    assertThat(pool.starting()).as("a miss while two are coming starts no third").isEqualTo(2);
    assertThat(pool.status().getClaimed()).isEqualTo(2);
    assertThat(slots.inUse).isEqualTo(2);

    threads.runQueued();
    assertThat(List.of(pool.take(), pool.take(), pool.take()))
        .containsExactly(Optional.of("sbx-3"), Optional.of("sbx-4"), Optional.empty());
  }

  @Test
  void aClaimThatFindsNothingStartsOneEvenInAPoolOfSizeZero() {
    WarmPool<String> pool = pool(0);
    pool.start();
    assertThat(pool.starting()).isZero();

    assertThat(pool.take()).isEmpty();
    assertThat(pool.take()).isEmpty();
    assertThat(pool.starting()).isEqualTo(1);
    assertThat(slots.inUse).as("a claim that got nothing holds no slot").isZero();

    threads.runQueued();
    assertThat(pool.take()).contains("sbx-1");
    assertThat(threads.queued()).as("nothing is kept warm in a pool of size 0").isZero();
  }

  @Test
  void aFinishedSandboxIsDestroyedAndItsSlotIsFreeOnlyOnceItIsGone() {
    slots.max = 1;
    WarmPool<String> pool = pool(1);
    pool.start();
    threads.runQueued();
    String first = pool.take().orElseThrow();
    threads.runQueued(); // the replacement
    assertThat(pool.status().getReady()).isEqualTo(1);

    assertThat(pool.take()).as("the cap is reached").isEmpty();
    assertThat(threads.queued()).as("nothing starts for a claim beyond the cap").isZero();

    int heard = signals.size();
    pool.finished(first);
    assertThat(sandboxes.destroyRequested).containsKey(first);
    assertThat(pool.quiet()).isFalse();
    assertThat(pool.take()).as("the container is still being removed").isEmpty();
    assertThat(signals).hasSize(heard);

    sandboxes.destroyRequested.get(first).complete(null);
    assertThat(pool.quiet()).isTrue();
    assertThat(signals).hasSize(heard + 1);
    assertThat(signals.get(heard)).as("slots in use when the listener heard").isZero();
    assertThat(pool.take()).contains("sbx-2");
  }

  @Test
  void aSandboxGivenBackUnusedIsNextInLineAndItsSlotIsFreeWhenTheListenerHears() {
    WarmPool<String> pool = pool(2);
    pool.start();
    threads.runQueued();
    String taken = pool.take().orElseThrow();
    int heard = signals.size();

    pool.giveBack(taken);
    assertThat(signals).hasSize(heard + 1);
    assertThat(signals.get(heard)).isZero();
    assertThat(sandboxes.destroyRequested).isEmpty();
    assertThat(pool.take()).contains(taken);
  }

  @Test
  void failedStartsPauseLongerEachTimeAndTheNextSuccessEndsTheFailing() {
    WarmPool<String> pool = pool(1);
    sandboxes.failures = 3;
    pool.start();
    threads.runQueued();
    assertThat(pool.starting()).isZero();
    assertThat(threads.scheduledDelays()).containsExactly(500L);

    // A claim during the pause starts nothing, and a retry that comes early waits again.
    assertThat(pool.take()).isEmpty();
    assertThat(threads.queued()).isZero();
    threads.runScheduled();
    assertThat(threads.queued()).isZero();
    assertThat(threads.scheduledDelays()).containsExactly(500L);

    for (long pause : new long[] {500, 1_000}) {
      nanoTime.addAndGet(TimeUnit.MILLISECONDS.toNanos(pause));
      threads.runScheduled();
      assertThat(pool.starting()).isEqualTo(1);
      threads.runQueued();
      assertThat(threads.scheduledDelays()).containsExactly(pause * 2);
    }
    assertThat(startFailures.current()).as("three failures in a row").isPresent();
    assertThat(startFailures.current().get().error()).contains("engine says no");

    nanoTime.addAndGet(TimeUnit.MILLISECONDS.toNanos(2_000));
    threads.runScheduled();
    threads.runQueued();
    assertThat(pool.status().getReady()).isEqualTo(1);
    assertThat(startFailures.current()).isEmpty();
  }

  @Test
  void closingDestroysIdleSandboxesAndThoseThatFinishStartingOrComeBackLater() {
    WarmPool<String> pool = pool(3);
    pool.start();
    threads.runOne();
    threads.runOne();
    String claimed = pool.take().orElseThrow();

    pool.close();
    assertThat(sandboxes.destroyRequested).containsOnlyKeys("sbx-2");
    threads.runQueued();
    assertThat(sandboxes.destroyRequested).containsOnlyKeys("sbx-2", "sbx-3");
    pool.giveBack(claimed);
    assertThat(sandboxes.destroyRequested).containsOnlyKeys("sbx-2", "sbx-3", claimed);

    assertThat(pool.take()).isEmpty();
    assertThat(threads.queued()).as("a closed pool starts nothing").isZero();
    assertThat(pool.status().getReady()).isZero();
    assertThat(pool.status().getClaimed()).isZero();
  }

  private WarmPool<String> pool(int size) {
    return new WarmPool<>(
        Language.PYTHON,
        size,
        sandboxes,
        threads,
        () -> signals.add(slots.inUse),
        slots,
        startFailures,
        new StartBackoff(nanoTime::get));
  }

  /** Runs nothing by itself: the test says when queued and scheduled tasks run. */
  private static final class ManualThreads implements WarmPool.Threads {
    private final Deque<Runnable> queue = new ArrayDeque<>();
    private final Map<Runnable, Long> scheduled = new LinkedHashMap<>();

    @Override
    public void execute(Runnable task) {
      queue.addLast(task);
    }

    @Override
    public void schedule(Runnable task, long delayMillis) {
      scheduled.put(task, delayMillis);
    }

    int queued() {
      return queue.size();
    }

    void runOne() {
      queue.removeFirst().run();
    }

    void runQueued() {
      while (!queue.isEmpty()) {
        runOne();
      }
    }

    List<Long> scheduledDelays() {
      return List.copyOf(scheduled.values());
    }

    void runScheduled() {
      List<Runnable> due = List.copyOf(scheduled.keySet());
      scheduled.clear();
      due.forEach(Runnable::run);
    }
  }

  /**
   * Numbered sandboxes; the first {@code failures} creations fail; removals complete when the test
   * says.
   */
  private static final class FakeSandboxes implements WarmPool.Sandboxes<String> {
    private final Map<String, CompletableFuture<Void>> destroyRequested = new LinkedHashMap<>();
    private int created;
    private int failures;

    @Override
    public String create() throws Exception {
      if (failures > 0) {
        failures--;
        throw new Exception("engine says no");
      }
      return "sbx-" + ++created;
    }

    @Override
    public CompletableFuture<Void> destroyLater(String sandbox) {
      CompletableFuture<Void> removal = new CompletableFuture<>();
      destroyRequested.put(sandbox, removal);
      return removal;
    }
  }

  /** A plain counter of slots, like a provider's container cap. */
  private static final class CountingSlots implements WarmPool.Slots {
    private int max;
    private int inUse;

    CountingSlots(int max) {
      this.max = max;
    }

    @Override
    public boolean tryTake() {
      if (inUse >= max) {
        return false;
      }
      inUse++;
      return true;
    }

    @Override
    public void giveBack() {
      inUse--;
    }
  }
}
