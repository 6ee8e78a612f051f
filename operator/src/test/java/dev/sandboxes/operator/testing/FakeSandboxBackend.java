package dev.sandboxes.operator.testing;

import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.PoolStatus;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.operator.backend.ProbeResult;
import dev.sandboxes.operator.backend.RunControl;
import dev.sandboxes.operator.backend.SandboxBackend;
import dev.sandboxes.operator.backend.SandboxLease;
import dev.sandboxes.operator.execution.ExecutionOutcome;
import dev.sandboxes.operator.execution.ExecutionRequest;
import dev.sandboxes.operator.execution.Termination;
import dev.sandboxes.operator.provider.BackendContext;
import dev.sandboxes.operator.runner.RunnerReport;
import dev.sandboxes.operator.runner.StreamCapture;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * An in-memory backend for reconciler tests: a fixed number of sandboxes, a scripted outcome per
 * request, optional gates that hold runs until released, and a record of every run (to prove
 * at-most-once).
 */
public final class FakeSandboxBackend implements SandboxBackend {

  private final AtomicInteger free;
  private final AtomicInteger sandboxCounter = new AtomicInteger();
  private final Map<String, AtomicInteger> runsByUid;
  private final String sandboxPrefix;
  private volatile Runnable onAcquire = () -> {};
  private volatile java.util.function.Consumer<ExecutionRequest> beforeRun = request -> {};
  private volatile boolean reportsSandboxIds;
  private final List<String> startOrder = new CopyOnWriteArrayList<>();
  private final Map<String, CountDownLatch> gates = new ConcurrentHashMap<>();
  private volatile Function<ExecutionRequest, ExecutionOutcome> behaviour =
      FakeSandboxBackend::succeedWithArguments;
  private volatile ProbeResult probe = ProbeResult.reachable("fake backend answered");
  private volatile Runnable capacityListener = () -> {};

  /** Set while sandboxes "fail to start": what the real backends' StartFailures would report. */
  private volatile dev.sandboxes.operator.backend.StartFailure startFailure;

  private volatile boolean closed;
  private volatile boolean started;
  private final List<String> discarded = new CopyOnWriteArrayList<>();

  public FakeSandboxBackend(int sandboxes) {
    this(sandboxes, new ConcurrentHashMap<>(), "fake-");
  }

  /**
   * A backend that counts runs per execution uid into {@code runsByUid}, shared with other backends
   * (e.g. one per operator, to prove that no execution runs twice across operators), and names its
   * sandboxes {@code sandboxPrefix + n}.
   */
  public FakeSandboxBackend(
      int sandboxes, Map<String, AtomicInteger> runsByUid, String sandboxPrefix) {
    this.free = new AtomicInteger(sandboxes);
    this.runsByUid = runsByUid;
    this.sandboxPrefix = sandboxPrefix;
  }

  /**
   * Runs {@code action} on the reconcile thread each time a sandbox is leased, before the lease is
   * returned.
   */
  public FakeSandboxBackend onAcquire(Runnable action) {
    this.onAcquire = action;
    return this;
  }

  /**
   * Runs {@code action} when a run begins, before anything else (before the sandbox id is
   * reported).
   */
  public FakeSandboxBackend beforeRun(java.util.function.Consumer<ExecutionRequest> action) {
    this.beforeRun = action;
    return this;
  }

  /**
   * Reports the sandbox id through the run control before running, as backends that create a remote
   * sandbox per run do; if recording it fails, nothing runs.
   */
  public FakeSandboxBackend reportingSandboxIds() {
    this.reportsSandboxIds = true;
    return this;
  }

  /** Sandboxes free now. */
  public int free() {
    return free.get();
  }

  /** Answers every run with exit 0, the arguments as result, and "ran <name>" on stdout. */
  public static ExecutionOutcome succeedWithArguments(ExecutionRequest request) {
    Instant now = Instant.now();
    return new ExecutionOutcome(
        Termination.EXITED,
        0,
        new StreamCapture("ran " + request.name() + "\n", 5 + request.name().length(), false),
        StreamCapture.EMPTY,
        new RunnerReport("ok", null, null, request.arguments(), null),
        null,
        now,
        now.plusMillis(5),
        null);
  }

  public FakeSandboxBackend behaviour(Function<ExecutionRequest, ExecutionOutcome> behaviour) {
    this.behaviour = behaviour;
    return this;
  }

  public FakeSandboxBackend probe(ProbeResult probe) {
    this.probe = probe;
    return this;
  }

  /** Runs of executions whose name starts with the prefix wait until {@link #open} is called. */
  public FakeSandboxBackend gate(String namePrefix) {
    gates.put(namePrefix, new CountDownLatch(1));
    return this;
  }

  public void open(String namePrefix) {
    CountDownLatch gate = gates.get(namePrefix);
    if (gate != null) {
      gate.countDown();
    }
  }

  /** Adds sandboxes and tells the operator. */
  public void addCapacity(int sandboxes) {
    free.addAndGet(sandboxes);
    capacityListener.run();
  }

  public int runs(String executionUid) {
    AtomicInteger count = runsByUid.get(executionUid);
    return count == null ? 0 : count.get();
  }

  public int totalRuns() {
    return runsByUid.values().stream().mapToInt(AtomicInteger::get).sum();
  }

  /** Names in the order their runs started. */
  public List<String> startOrder() {
    return List.copyOf(startOrder);
  }

  public List<String> discarded() {
    return List.copyOf(discarded);
  }

  public boolean closed() {
    return closed;
  }

  @Override
  public ProviderType type() {
    return ProviderType.DOCKER;
  }

  /**
   * From now on sandboxes fail to start with this error (null: they start again), as the real
   * backends report it after a few identical failures: the probe says SandboxStartFailing, no
   * sandbox is handed out, and the capacity listener is told of the change.
   */
  public FakeSandboxBackend startFailure(dev.sandboxes.operator.backend.StartFailure failure) {
    this.startFailure = failure;
    capacityListener.run();
    return this;
  }

  @Override
  public Optional<dev.sandboxes.operator.backend.StartFailure> startFailure() {
    return Optional.ofNullable(startFailure);
  }

  @Override
  public void start() {
    started = true;
  }

  /** Whether the operator put this backend in service ({@link #start}). */
  public boolean started() {
    return started;
  }

  @Override
  public ProbeResult probe() {
    dev.sandboxes.operator.backend.StartFailure failure = startFailure;
    if (failure != null) {
      return ProbeResult.notReady(
          failure.reason(), "fake sandboxes fail to start: " + failure.describe());
    }
    return probe;
  }

  @Override
  public Optional<SandboxLease> tryAcquire(Language language) {
    if (startFailure != null) {
      return Optional.empty();
    }
    while (true) {
      int current = free.get();
      if (current <= 0) {
        return Optional.empty();
      }
      if (free.compareAndSet(current, current - 1)) {
        onAcquire.run();
        String id = sandboxPrefix + sandboxCounter.incrementAndGet();
        return Optional.of(
            new SandboxLease() {
              @Override
              public Language language() {
                return language;
              }

              @Override
              public String sandboxId() {
                return id;
              }

              @Override
              public void release() {
                free.incrementAndGet();
                capacityListener.run();
              }
            });
      }
    }
  }

  @Override
  public ExecutionOutcome execute(
      SandboxLease lease, ExecutionRequest request, RunControl control) {
    beforeRun.accept(request);
    if (reportsSandboxIds) {
      try {
        control.sandboxAssigned(lease.sandboxId());
      } catch (RuntimeException e) {
        free.incrementAndGet();
        capacityListener.run();
        return ExecutionOutcome.failure(
            Termination.SANDBOX_FAILED,
            null,
            null,
            Instant.now(),
            "The sandbox id could not be recorded, so no code was sent");
      }
    }
    runsByUid.computeIfAbsent(request.uid(), k -> new AtomicInteger()).incrementAndGet();
    startOrder.add(request.name());
    try {
      CountDownLatch cancelled = new CountDownLatch(1);
      control.onCancel(cancelled::countDown);
      for (Map.Entry<String, CountDownLatch> gate : gates.entrySet()) {
        if (request.name().startsWith(gate.getKey())) {
          while (!gate.getValue().await(50, TimeUnit.MILLISECONDS)) {
            if (cancelled.getCount() == 0) {
              return ExecutionOutcome.failure(
                  Termination.CANCELLED,
                  lease.sandboxId(),
                  null,
                  Instant.now(),
                  control.cancelReason());
            }
          }
        }
      }
      ExecutionOutcome outcome = behaviour.apply(request);
      return new ExecutionOutcome(
          outcome.termination(),
          outcome.exitCode(),
          outcome.stdout(),
          outcome.stderr(),
          outcome.report(),
          lease.sandboxId(),
          outcome.startTime(),
          outcome.completionTime(),
          outcome.detail());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return ExecutionOutcome.failure(
          Termination.SANDBOX_FAILED, lease.sandboxId(), null, Instant.now(), "interrupted");
    } finally {
      // The sandbox is destroyed and a fresh one takes its place, as in a real pool.
      free.incrementAndGet();
      capacityListener.run();
    }
  }

  @Override
  public void discard(String executionUid, String sandboxId) {
    discarded.add(sandboxId);
  }

  @Override
  public List<PoolStatus> pools() {
    PoolStatus pool = new PoolStatus();
    pool.setLanguage(Language.PYTHON);
    pool.setReady(Math.max(0, free.get()));
    pool.setClaimed(0);
    pool.setDesired(0);
    return List.of(pool);
  }

  /**
   * This fake as the backend built from {@code context}: it calls the context's capacity listener
   * from now on, as a real backend does from its construction. For factories that hand out a
   * backend made beforehand.
   */
  public FakeSandboxBackend builtFrom(BackendContext context) {
    this.capacityListener = context.capacityListener();
    return this;
  }

  @Override
  public void close() {
    closed = true;
  }
}
