package dev.sandboxes.operator.backend.docker;

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
 * Warm containers of one language. Keeps {@code poolSize} idle containers started, hands each to
 * exactly one execution, and starts a replacement as soon as one is taken (ahead of demand). When
 * none is idle, a request starts one on demand. Failed starts back off and retry, so the pool never
 * shrinks for good. Claims are bounded by the provider's {@link ContainerBudget}: when it is used
 * up, a request gets nothing and starts nothing.
 */
final class ContainerPool {

  private static final Logger LOG = LoggerFactory.getLogger(ContainerPool.class);

  /** Creates and starts a container, returning its id; destroys containers without blocking. */
  interface Launcher {
    String launch(Language language) throws Exception;

    /** Starts removing the container; completes when the removal ended (well or not). */
    CompletableFuture<Void> destroyLater(String containerId);

    /** The engine's own words for a failed start (for the status), secrets removed. */
    default String describe(Exception e) {
      return String.valueOf(e.getMessage());
    }

    /** What to check for this failure, one sentence, or null. */
    default String hint(String error) {
      return null;
    }
  }

  private final Language language;
  private final int poolSize;
  private final int maxCreating;
  private final Launcher launcher;
  private final ScheduledExecutorService maintenance;
  private final Runnable capacityListener;
  private final ContainerBudget budget;
  private final StartFailures startFailures;
  private final Deque<String> idle = new ArrayDeque<>();
  private int creating;
  private int destroying;
  private int claimed;
  private int consecutiveFailures;
  private long backoffUntilNanos;
  private boolean retryScheduled;
  private boolean closed;
  private volatile String lastError;

  ContainerPool(
      Language language,
      int poolSize,
      Launcher launcher,
      ScheduledExecutorService maintenance,
      Runnable capacityListener,
      ContainerBudget budget) {
    this(language, poolSize, launcher, maintenance, capacityListener, budget, new StartFailures(text -> text));
  }

  /** @param startFailures where every start of the provider's pools is counted, failed or not */
  ContainerPool(
      Language language,
      int poolSize,
      Launcher launcher,
      ScheduledExecutorService maintenance,
      Runnable capacityListener,
      ContainerBudget budget,
      StartFailures startFailures) {
    this.startFailures = startFailures;
    this.language = language;
    this.budget = budget;
    this.poolSize = poolSize;
    this.maxCreating = Math.max(2, poolSize);
    this.launcher = launcher;
    this.maintenance = maintenance;
    this.capacityListener = capacityListener;
  }

  /** Starts filling the pool. */
  synchronized void start() {
    refillLocked(false);
  }

  /**
   * An idle container, now claimed; or empty, in which case one is being started, unless the
   * provider's cap is reached: then nothing is started and the caller waits for a slot.
   */
  synchronized Optional<String> take() {
    if (!budget.tryTake()) {
      return Optional.empty(); // capacityListener fires when a container is removed
    }
    String id = idle.pollFirst();
    if (id == null) {
      budget.giveBack();
      refillLocked(true);
      return Optional.empty();
    }
    claimed++;
    if (idle.isEmpty()) {
      // The next request would find nothing: start the replacement now. Otherwise it waits for the
      // end of this execution, so that container starts do not compete with the code for the CPU.
      refillLocked(false);
    }
    return Optional.of(id);
  }

  /** A claimed container that ran no code: back to the idle set. */
  void giveBack(String containerId) {
    boolean keep;
    synchronized (this) {
      claimed--;
      keep = !closed;
      if (keep) {
        idle.addFirst(containerId);
      }
    }
    budget.giveBack();
    if (keep) {
      capacityListener.run();
    } else {
      launcher.destroyLater(containerId);
    }
  }

  /** A claimed container that ran an execution: destroyed, never reused. */
  void finished(String containerId) {
    synchronized (this) {
      claimed--;
      destroying++;
      refillLocked(false);
    }
    launcher.destroyLater(containerId).whenComplete((ignored, error) -> {
      synchronized (this) {
        destroying--;
      }
      // The slot is free once the container is gone from the engine, not when its run ended.
      budget.giveBack();
      capacityListener.run();
    });
  }

  /** Whether no container is being started or destroyed (benchmarks measure a quiet engine). */
  synchronized boolean quiet() {
    return creating == 0 && destroying == 0;
  }

  synchronized PoolStatus status() {
    PoolStatus status = new PoolStatus();
    status.setLanguage(language);
    status.setReady(idle.size());
    status.setClaimed(claimed);
    status.setDesired(poolSize);
    return status;
  }

  /** Containers being created and started for this pool. */
  synchronized int starting() {
    return creating;
  }

  /** The last container start failure, or null. */
  String lastError() {
    return lastError;
  }

  /** Stops refilling and destroys idle containers; claimed ones are destroyed when their run ends. */
  void close() {
    List<String> toDestroy;
    synchronized (this) {
      closed = true;
      toDestroy = new ArrayList<>(idle);
      idle.clear();
    }
    toDestroy.forEach(launcher::destroyLater);
  }

  private void refillLocked(boolean demand) {
    if (closed) {
      return;
    }
    if (System.nanoTime() < backoffUntilNanos) {
      scheduleRetryLocked();
      return;
    }
    while (creating < maxCreating && (idle.size() + creating < poolSize || (demand && idle.isEmpty() && creating == 0))) {
      creating++;
      maintenance.execute(this::launchOne);
      demand = false;
    }
  }

  private void launchOne() {
    String id;
    try {
      id = launcher.launch(language);
    } catch (Exception e) {
      synchronized (this) {
        creating--;
        consecutiveFailures++;
        long delayMillis = Math.min(30_000L, 500L << Math.min(consecutiveFailures - 1, 6));
        backoffUntilNanos = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(delayMillis);
        lastError = launcher.describe(e);
        scheduleRetryLocked();
      }
      LOG.warn("starting a {} sandbox container failed ({} in a row): {}", language, consecutiveFailures, lastError);
      startFailures.failed(lastError, launcher.hint(lastError));
      return;
    }
    boolean keep;
    synchronized (this) {
      creating--;
      consecutiveFailures = 0;
      lastError = null;
      keep = !closed;
      if (keep) {
        idle.addLast(id);
      }
    }
    startFailures.succeeded();
    if (keep) {
      capacityListener.run();
    } else {
      launcher.destroyLater(id);
    }
  }

  private void scheduleRetryLocked() {
    if (retryScheduled || closed) {
      return;
    }
    retryScheduled = true;
    long delay = Math.max(1, TimeUnit.NANOSECONDS.toMillis(backoffUntilNanos - System.nanoTime()));
    maintenance.schedule(
        () -> {
          synchronized (this) {
            retryScheduled = false;
            refillLocked(idle.isEmpty());
          }
        },
        delay,
        TimeUnit.MILLISECONDS);
  }
}
