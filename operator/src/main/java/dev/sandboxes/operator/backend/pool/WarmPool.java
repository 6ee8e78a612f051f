package dev.sandboxes.operator.backend.pool;

import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.PoolStatus;
import dev.sandboxes.operator.backend.StartFailures;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Warm sandboxes of one language whose inventory lives in this process. Keeps {@code size} idle
 * sandboxes started, hands each to exactly one execution, and starts a replacement once the last
 * idle one is taken (ahead of demand). When none is idle, a claim starts one on demand. Failed
 * starts back off ({@link StartBackoff}) and retry, so the pool never shrinks for good. Claims may
 * be bounded by {@link Slots} shared with other pools: when they are used up, a claim gets nothing
 * and starts nothing. The engine-specific part (create, destroy) is a {@link Sandboxes}.
 *
 * @param <S> how the engine names a sandbox (a container id, say)
 */
public final class WarmPool<S> {

  private static final Logger LOG = LoggerFactory.getLogger(WarmPool.class);

  /** Makes and removes the sandboxes of one pool: the part that knows the engine. */
  public interface Sandboxes<S> {
    /** Creates and starts a sandbox that can take an execution; runs on a pool thread. */
    S create() throws Exception;

    /** Starts removing the sandbox; completes when the removal ended (well or not). */
    CompletableFuture<Void> destroyLater(S sandbox);

    /** The engine's own words for a failed start (for the status), secrets removed. */
    default String describe(Exception e) {
      return String.valueOf(e.getMessage());
    }

    /** What to check for this failure, one sentence, or null. */
    default String hint(String error) {
      return null;
    }
  }

  /**
   * A cap on sandboxes in use that several pools may share. A sandbox holds a slot from its claim
   * until it is gone from the engine: one being destroyed still uses the engine's memory.
   */
  public interface Slots {
    /** Takes a slot, or returns false when all are in use. */
    boolean tryTake();

    /** Gives a slot back. */
    void giveBack();

    /** No cap. */
    static Slots unlimited() {
      return new Slots() {
        @Override
        public boolean tryTake() {
          return true;
        }

        @Override
        public void giveBack() {}
      };
    }
  }

  /** Where the pool runs its sandbox starts and its retry after a backoff. */
  public interface Threads {
    void execute(Runnable task);

    void schedule(Runnable task, long delayMillis);

    /** The backend's maintenance executor. */
    static Threads of(ScheduledExecutorService executor) {
      return new Threads() {
        @Override
        public void execute(Runnable task) {
          executor.execute(task);
        }

        @Override
        public void schedule(Runnable task, long delayMillis) {
          executor.schedule(task, delayMillis, TimeUnit.MILLISECONDS);
        }
      };
    }
  }

  private final Language language;
  private final int size;
  private final Sandboxes<S> sandboxes;
  private final Threads threads;
  private final Runnable capacityListener;
  private final Slots slots;
  private final StartFailures startFailures;
  private final StartBackoff backoff;
  private final Deque<S> idle = new ArrayDeque<>();
  private int creating;
  private int destroying;
  private int claimed;
  private boolean retryScheduled;
  private boolean closed;

  /**
   * @param size idle sandboxes to keep started (0: start one per claim only)
   * @param capacityListener told (outside locks) whenever a claim may now succeed
   * @param startFailures where every start is counted, failed or not (shared by a provider's pools)
   * @param backoff this pool's own pause after failed starts
   */
  public WarmPool(
      Language language,
      int size,
      Sandboxes<S> sandboxes,
      Threads threads,
      Runnable capacityListener,
      Slots slots,
      StartFailures startFailures,
      StartBackoff backoff) {
    if (size < 0) {
      throw new IllegalArgumentException("a pool size must be 0 or more, not " + size);
    }
    this.language = language;
    this.size = size;
    this.sandboxes = sandboxes;
    this.threads = threads;
    this.capacityListener = capacityListener;
    this.slots = slots;
    this.startFailures = startFailures;
    this.backoff = backoff;
  }

  /** Starts filling the pool. */
  public synchronized void start() {
    refillLocked(false);
  }

  /**
   * An idle sandbox, now claimed by the caller alone; or empty, in which case one is being started,
   * unless the slots are used up: then nothing is started and the caller waits for one.
   */
  public synchronized Optional<S> take() {
    if (!slots.tryTake()) {
      return Optional.empty(); // capacityListener fires when a sandbox is gone
    }
    S sandbox = idle.pollFirst();
    if (sandbox == null) {
      slots.giveBack();
      refillLocked(true);
      return Optional.empty();
    }
    claimed++;
    if (idle.isEmpty()) {
      // The next claim would find nothing: start the replacement now. Otherwise it waits for the
      // end of this execution, so that sandbox starts do not compete with the code for the CPU.
      refillLocked(false);
    }
    return Optional.of(sandbox);
  }

  /** A claimed sandbox that ran no code: back to the idle set. */
  public void giveBack(S sandbox) {
    boolean kept;
    synchronized (this) {
      claimed--;
      kept = keepLocked(sandbox, true); // back at the front, where take() found it
    }
    // The slot first: a waiting execution woken by the listener must find it free.
    slots.giveBack();
    announceOrDestroy(sandbox, kept);
  }

  /** A claimed sandbox that ran an execution: destroyed, never reused. */
  public void finished(S sandbox) {
    synchronized (this) {
      claimed--;
      destroying++;
      refillLocked(false);
    }
    sandboxes
        .destroyLater(sandbox)
        .whenComplete(
            (ignored, error) -> {
              synchronized (this) {
                destroying--;
              }
              // The slot is free once the sandbox is gone from the engine, not when its run ended.
              slots.giveBack();
              capacityListener.run();
            });
  }

  /** Whether no sandbox is being started or destroyed (benchmarks measure a quiet engine). */
  public synchronized boolean quiet() {
    return creating == 0 && destroying == 0;
  }

  /** Idle, claimed and desired counts, as the provider's status shows them. */
  public synchronized PoolStatus status() {
    PoolStatus status = new PoolStatus();
    status.setLanguage(language);
    status.setReady(idle.size());
    status.setClaimed(claimed);
    status.setDesired(size);
    return status;
  }

  /** Sandboxes being created and started for this pool. */
  public synchronized int starting() {
    return creating;
  }

  /**
   * Stops refilling and destroys idle sandboxes; claimed ones are destroyed when their run ends.
   */
  public void close() {
    List<S> toDestroy;
    synchronized (this) {
      closed = true;
      toDestroy = new ArrayList<>(idle);
      idle.clear();
    }
    toDestroy.forEach(sandboxes::destroyLater);
  }

  private void refillLocked(boolean demand) {
    if (closed) {
      return;
    }
    if (backoff.pausing()) {
      scheduleRetryLocked();
      return;
    }
    int toStart = Refill.plan(size, idle.size(), creating, demand).toStart();
    for (int i = 0; i < toStart; i++) {
      creating++;
      threads.execute(this::createOne);
    }
  }

  private void createOne() {
    S sandbox;
    try {
      sandbox = sandboxes.create();
    } catch (Exception e) {
      String error = sandboxes.describe(e);
      int inARow;
      synchronized (this) {
        creating--;
        inARow = backoff.failed();
        scheduleRetryLocked();
      }
      LOG.warn("starting a {} sandbox failed ({} in a row): {}", language, inARow, error);
      startFailures.failed(error, sandboxes.hint(error));
      return;
    }
    boolean kept;
    synchronized (this) {
      creating--;
      backoff.succeeded();
      kept = keepLocked(sandbox, false);
    }
    startFailures.succeeded();
    announceOrDestroy(sandbox, kept);
  }

  /** Adds the sandbox to the idle set unless the pool is closed; returns whether it did. */
  private boolean keepLocked(S sandbox, boolean first) {
    if (closed) {
      return false;
    }
    if (first) {
      idle.addFirst(sandbox);
    } else {
      idle.addLast(sandbox);
    }
    return true;
  }

  /** Outside the lock: the listener may claim at once, and a removal may take its time. */
  private void announceOrDestroy(S sandbox, boolean kept) {
    if (kept) {
      capacityListener.run();
    } else {
      sandboxes.destroyLater(sandbox);
    }
  }

  private void scheduleRetryLocked() {
    if (retryScheduled || closed) {
      return;
    }
    retryScheduled = true;
    threads.schedule(
        () -> {
          synchronized (this) {
            retryScheduled = false;
            refillLocked(idle.isEmpty());
          }
        },
        Math.max(1, backoff.remainingMillis()));
  }
}
