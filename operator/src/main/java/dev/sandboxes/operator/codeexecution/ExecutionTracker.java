package dev.sandboxes.operator.codeexecution;

import dev.sandboxes.operator.backend.RunControl;
import dev.sandboxes.operator.backend.SandboxBackend;
import dev.sandboxes.operator.backend.SandboxLease;
import dev.sandboxes.operator.execution.ExecutionOutcome;
import dev.sandboxes.operator.execution.ExecutionRequest;
import dev.sandboxes.operator.execution.Termination;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs executions off the reconcile threads and remembers each one until its outcome is written.
 * When a run ends, the tracker frees its queue slot and triggers a reconcile that writes the final
 * status.
 */
public final class ExecutionTracker implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(ExecutionTracker.class);

  /** One execution handed to a backend in this process. */
  public static final class Run {
    private final ResourceID id;
    private final String executionUid;
    private final String providerUid;
    private final ExecutionRequest request;
    private final RunControl control;
    private final long storedBytesWithoutStatus;
    private volatile String sandboxId;
    private volatile ExecutionOutcome outcome;
    private final Instant handedOver;
    private volatile Instant ended;

    Run(
        ResourceID id,
        String executionUid,
        String providerUid,
        ExecutionRequest request,
        String sandboxId,
        long storedBytesWithoutStatus,
        Instant handedOver,
        Consumer<Run> sandboxAssigned) {
      this.id = id;
      this.handedOver = handedOver;
      this.executionUid = executionUid;
      this.providerUid = providerUid;
      this.request = request;
      this.storedBytesWithoutStatus = storedBytesWithoutStatus;
      this.sandboxId = sandboxId;
      this.control =
          RunControl.storedLater(
              assigned -> {
                this.sandboxId = assigned;
                sandboxAssigned.accept(this);
              });
    }

    public ResourceID id() {
      return id;
    }

    public String executionUid() {
      return executionUid;
    }

    public String providerUid() {
      return providerUid;
    }

    /** What the backend was asked to run, with the limits its outcome is judged by. */
    public ExecutionRequest request() {
      return request;
    }

    public String sandboxId() {
      return sandboxId;
    }

    /**
     * Size of the stored object without its status when the run started: what the status must fit
     * beside.
     */
    public long storedBytesWithoutStatus() {
      return storedBytesWithoutStatus;
    }

    /** When the run was handed to the tracker: its Started status was stored just before. */
    public Instant handedOver() {
      return handedOver;
    }

    /** When the backend's run ended, once it did, else null. */
    public Instant ended() {
      return ended;
    }

    /** The outcome once the run ended, else empty. */
    public Optional<ExecutionOutcome> outcome() {
      return Optional.ofNullable(outcome);
    }

    public RunControl control() {
      return control;
    }
  }

  private final ConcurrentMap<String, Run> runs = new ConcurrentHashMap<>();
  private final ExecutorService executor;
  private final ExecutionQueue queue;
  private final Consumer<ResourceID> trigger;
  private final Clock clock;
  private volatile Consumer<Run> sandboxAssignedHandler = run -> {};

  /** Starts between their Started write and {@link #start}; guarded by {@code this}. */
  private int starting;

  /** Set by {@link #drain}: no start begins after it. Guarded by {@code this}. */
  private boolean draining;

  public ExecutionTracker(ExecutionQueue queue, Consumer<ResourceID> trigger, Clock clock) {
    this.queue = queue;
    this.trigger = trigger;
    this.clock = clock;
    AtomicInteger counter = new AtomicInteger();
    this.executor =
        Executors.newCachedThreadPool(
            r -> {
              Thread thread = new Thread(r, "execution-" + counter.incrementAndGet());
              thread.setDaemon(true);
              return thread;
            });
  }

  /**
   * Sets what happens when a backend reports a sandbox id mid-run (the reconciler records it in the
   * status before the backend goes on).
   */
  public void onSandboxAssigned(Consumer<Run> handler) {
    this.sandboxAssignedHandler = handler;
  }

  /** The run of an execution uid, if this process started it and its outcome is not written yet. */
  public Optional<Run> get(String executionUid) {
    return Optional.ofNullable(runs.get(executionUid));
  }

  /**
   * Starts the run in the background. The Started status must already be written.
   *
   * @param storedBytesWithoutStatus the encoded size of the object without its status, for the
   *     final status's budget
   */
  public Run start(
      ResourceID id,
      String executionUid,
      String providerUid,
      SandboxBackend backend,
      SandboxLease lease,
      ExecutionRequest request,
      long storedBytesWithoutStatus) {
    Run run =
        new Run(
            id,
            executionUid,
            providerUid,
            request,
            lease.sandboxId(),
            storedBytesWithoutStatus,
            clock.instant(),
            r -> sandboxAssignedHandler.accept(r));
    runs.put(executionUid, run);
    executor.execute(
        () -> {
          ExecutionOutcome outcome;
          Instant started = clock.instant();
          try {
            outcome = backend.execute(lease, request, run.control);
          } catch (RuntimeException e) {
            LOG.warn("execution {} failed in the backend: {}", request.displayName(), e.toString());
            outcome =
                ExecutionOutcome.failure(
                    Termination.SANDBOX_FAILED,
                    run.sandboxId,
                    started,
                    clock.instant(),
                    "The backend failed: " + e.getMessage());
          }
          run.ended = clock.instant();
          run.outcome = outcome;
          queue.release(providerUid, executionUid);
          trigger.accept(id);
        });
    return run;
  }

  /**
   * Announces a start: call it before the Started write, and {@link #endStart} once the run is
   * handed to {@link #start} (or the start was given up). Returns false once a drain began: then
   * start nothing, and the execution stays pending for the next operator. A drain waits for the
   * starts announced before it, so an execution written Started just before a shutdown is still run
   * or cancelled here, never left Running with nobody tracking it.
   */
  public synchronized boolean beginStart() {
    if (draining) {
      return false;
    }
    starting++;
    return true;
  }

  /** The start announced by {@link #beginStart} is over: its run is tracked, or nothing runs. */
  public synchronized void endStart() {
    starting--;
    notifyAll();
  }

  /** The outcome was written (or the execution is gone): forget the run. */
  public void forget(String executionUid) {
    Run run = runs.remove(executionUid);
    if (run != null) {
      run.control.markOutcomeStored();
    }
  }

  /** Cancels a run whose CodeExecution was deleted; the backend destroys the sandbox. */
  public void cancel(String executionUid) {
    Run run = runs.remove(executionUid);
    if (run != null) {
      run.control.cancel();
      run.control.markOutcomeStored();
    }
  }

  /** Cancels a run whose outcome nobody will record (another writer finished the execution). */
  public void cancel(String executionUid, String reason) {
    Run run = runs.remove(executionUid);
    if (run != null) {
      run.control.cancel(reason);
      run.control.markOutcomeStored();
    }
  }

  /** Runs that ended but whose outcome is not written yet. */
  public int pendingOutcomes() {
    return (int) runs.values().stream().filter(r -> r.outcome != null).count();
  }

  /** Runs in progress. */
  public List<Run> active() {
    return runs.values().stream().filter(r -> r.outcome == null).toList();
  }

  /**
   * Graceful shutdown: waits up to the grace period for runs to finish (their outcomes are written
   * by the still-running controller), then cancels the rest.
   */
  public void drain(Duration grace) {
    long deadline = System.nanoTime() + grace.toNanos();
    awaitStarts(deadline);
    while (!active().isEmpty() && System.nanoTime() < deadline) {
      try {
        Thread.sleep(100);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    active()
        .forEach(
            run ->
                run.control.cancel(
                    "The operator shut down before the execution finished; its sandbox was destroyed"));
  }

  /** Refuses new starts and waits, until the deadline, for the starts already under way. */
  private synchronized void awaitStarts(long deadline) {
    draining = true;
    long left;
    while (starting > 0 && (left = deadline - System.nanoTime()) > 0) {
      try {
        TimeUnit.NANOSECONDS.timedWait(this, left);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  @Override
  public void close() {
    active().forEach(run -> run.control.cancel());
    runs.values().forEach(run -> run.control.markOutcomeStored());
    executor.shutdownNow();
    try {
      executor.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
