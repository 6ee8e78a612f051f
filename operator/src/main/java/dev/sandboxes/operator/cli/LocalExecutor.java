package dev.sandboxes.operator.cli;

import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionReason;
import dev.sandboxes.api.v1alpha1.CodeExecutionStatus;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.operator.backend.RunControl;
import dev.sandboxes.operator.backend.SandboxBackend;
import dev.sandboxes.operator.backend.SandboxLease;
import dev.sandboxes.operator.backend.StartFailure;
import dev.sandboxes.operator.backend.StartFailures;
import dev.sandboxes.operator.codeexecution.Admission;
import dev.sandboxes.operator.codeexecution.CodeExecutionStatusCalculator;
import dev.sandboxes.operator.execution.ExecutionOutcome;
import dev.sandboxes.operator.execution.ExecutionRequest;
import dev.sandboxes.operator.execution.Termination;
import dev.sandboxes.operator.provider.ProviderSettings;
import dev.sandboxes.operator.provider.ReferencedObjects;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * Runs one CodeExecution through a backend without a cluster, with the operator's own steps:
 * admission (the same {@link Admission} as the operator's), wait for a sandbox, write-ahead
 * Started, run, final status.
 */
final class LocalExecutor {

  /** How often a long wait for a sandbox says that it still waits. */
  private static final Duration PROGRESS_INTERVAL = Duration.ofSeconds(5);

  /** Longest sleep between two looks for a free sandbox when the backend says nothing. */
  private static final Duration CAPACITY_POLL = Duration.ofMillis(250);

  private final ProviderSettings settings;
  private final java.util.function.Consumer<String> progress;
  private final SandboxBackend backend;
  private final ReferencedObjects objects;
  private final Clock clock;
  private final java.nio.file.Path artifactsDir;
  private final CapacitySignal capacity;

  LocalExecutor(
      ProviderSettings settings,
      SandboxBackend backend,
      CapacitySignal capacity,
      ReferencedObjects objects,
      Clock clock) {
    this(settings, backend, capacity, objects, clock, line -> {}, null);
  }

  /**
   * @param capacity the capacity listener of the backend's context
   * @param progress where a long wait for a sandbox reports itself, a line at a time
   * @param artifactsDir where each execution's files go (a directory per execution), or null
   */
  LocalExecutor(
      ProviderSettings settings,
      SandboxBackend backend,
      CapacitySignal capacity,
      ReferencedObjects objects,
      Clock clock,
      java.util.function.Consumer<String> progress,
      java.nio.file.Path artifactsDir) {
    this.capacity = capacity;
    this.progress = progress;
    this.artifactsDir = artifactsDir;
    this.settings = settings;
    this.backend = backend;
    this.objects = objects;
    this.clock = clock;
  }

  /** Runs it and returns the status it ends with. */
  CodeExecutionStatus run(CodeExecution cx) {
    Instant now = clock.instant();
    Admission.Decision<SandboxBackend> decision =
        Admission.admit(cx, this::chooseProvider, objects);
    if (decision instanceof Admission.Invalid<SandboxBackend> invalid) {
      return invalid.status(cx, now);
    }
    if (decision instanceof Admission.Waiting<SandboxBackend> waiting) {
      // Without a cluster nothing appears later: what is missing had to come with the command.
      return CodeExecutionStatusCalculator.invalid(
          cx, List.of(waiting.problem() + " (pass it in -f or --secret)"), now);
    }
    ExecutionRequest request = ((Admission.Admitted<SandboxBackend>) decision).request();
    Duration admission = Admission.admissionTimeout(cx.getSpec());
    Optional<SandboxLease> lease = waitForSandbox(cx, admission);
    if (lease.isEmpty()) {
      Optional<StartFailure> failing = backend.startFailure();
      String message =
          failing
              .map(
                  f ->
                      "Sandboxes of SandboxProvider "
                          + settings.name()
                          + " fail to start ("
                          + StartFailures.THRESHOLD
                          + " times in a row, same error): "
                          + f.error())
              .orElse(
                  "No sandbox became available within spec.admissionTimeoutSeconds ("
                      + admission.toSeconds()
                      + "s)");
      return CodeExecutionStatusCalculator.neverStarted(cx, message, clock.instant());
    }
    CodeExecutionStatus started =
        CodeExecutionStatusCalculator.started(
            cx, settings.name(), settings.type(), lease.get().sandboxId(), clock.instant());
    cx.setStatus(started);
    ExecutionOutcome outcome;
    try {
      outcome = backend.execute(lease.get(), request, RunControl.detached());
    } catch (RuntimeException e) {
      outcome =
          ExecutionOutcome.failure(
              Termination.SANDBOX_FAILED,
              lease.get().sandboxId(),
              null,
              clock.instant(),
              "The backend failed: " + e.getMessage());
    }
    CodeExecutionStatus finished =
        CodeExecutionStatusCalculator.finished(cx, outcome, request, clock.instant());
    LocalArtifacts.apply(
        cx, finished, outcome.report().against(outcome.exitCode()).artifacts(), artifactsDir);
    return finished;
  }

  /** The one provider of this run: an execution that names another is invalid, not waiting. */
  private Admission.ProviderChoice<SandboxBackend> chooseProvider(CodeExecution cx) {
    if (cx.getSpec().getProviderRef() != null
        && !settings.name().equals(cx.getSpec().getProviderRef().getName())) {
      return Admission.Invalid.spec(
          List.of(
              "spec.providerRef names SandboxProvider "
                  + cx.getSpec().getProviderRef().getName()
                  + " but --provider is "
                  + settings.name()));
    }
    return new Admission.Usable<>(backend, settings);
  }

  /**
   * A sandbox, or empty when the admission time passed or the backend's sandboxes keep failing to
   * start (a few identical failures in a row: waiting longer would only repeat them).
   */
  private Optional<SandboxLease> waitForSandbox(CodeExecution cx, Duration admission) {
    long start = System.nanoTime();
    long deadline = start + admission.toNanos();
    long nextProgress = start + PROGRESS_INTERVAL.toNanos();
    while (System.nanoTime() < deadline) {
      // First: backends that start a sandbox per run (SaaS) always grant a lease, which would
      // only fail the same way again.
      if (backend.startFailure().isPresent()) {
        return Optional.empty();
      }
      Optional<SandboxLease> lease = backend.tryAcquire(cx.getSpec().getLanguage());
      if (lease.isPresent()) {
        return lease;
      }
      long now = System.nanoTime();
      if (now >= nextProgress) {
        nextProgress = now + PROGRESS_INTERVAL.toNanos();
        progress.accept(
            String.format(
                "  %s/%s: still waiting for a sandbox after %ds (gives up after %ds)",
                cx.getMetadata().getNamespace(),
                cx.getMetadata().getName(),
                Duration.ofNanos(now - start).toSeconds(),
                admission.toSeconds()));
      }
      try {
        capacity.await(CAPACITY_POLL);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return Optional.empty();
      }
    }
    return Optional.empty();
  }

  /**
   * The exit status class of a finished execution: 0 success, 1 user code, 2 input or
   * infrastructure.
   */
  static int exitClass(CodeExecutionStatus status) {
    String reason =
        dev.sandboxes.api.util.Conditions.reason(status.getConditions(), ConditionTypes.SUCCEEDED);
    if (dev.sandboxes.api.util.Conditions.isTrue(
        status.getConditions(), ConditionTypes.SUCCEEDED)) {
      return 0;
    }
    if (CodeExecutionReason.USER_CODE_ERROR.is(reason)
        || CodeExecutionReason.TIMED_OUT.is(reason)
        || CodeExecutionReason.OUT_OF_MEMORY.is(reason)
        || CodeExecutionReason.OUTPUT_LIMIT_EXCEEDED.is(reason)) {
      return 1;
    }
    return 2;
  }
}
