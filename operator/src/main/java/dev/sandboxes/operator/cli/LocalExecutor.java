package dev.sandboxes.operator.cli;

import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionSpec;
import dev.sandboxes.api.v1alpha1.CodeExecutionStatus;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.ExecutionMode;
import dev.sandboxes.operator.backend.RunControl;
import dev.sandboxes.operator.backend.SandboxBackend;
import dev.sandboxes.operator.backend.SandboxLease;
import dev.sandboxes.operator.backend.StartFailure;
import dev.sandboxes.operator.backend.StartFailures;
import dev.sandboxes.operator.codeexecution.CodeExecutionStatusCalculator;
import dev.sandboxes.operator.codeexecution.CodeExecutionValidator;
import dev.sandboxes.operator.codeexecution.ExecutionInputs;
import dev.sandboxes.operator.codeexecution.ReferencedObjects;
import dev.sandboxes.operator.execution.ExecutionOutcome;
import dev.sandboxes.operator.execution.ExecutionRequest;
import dev.sandboxes.operator.execution.Termination;
import dev.sandboxes.operator.sandboxprovider.ProviderSettings;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * Runs one CodeExecution through a backend without a cluster, with the operator's own steps:
 * validate, resolve inputs, validate against the provider, wait for a sandbox, write-ahead
 * Started, run, final status.
 */
final class LocalExecutor {

  /** How often a long wait for a sandbox says that it still waits. */
  private static final Duration PROGRESS_INTERVAL = Duration.ofSeconds(5);

  private final ProviderSettings settings;
  private final java.util.function.Consumer<String> progress;
  private final SandboxBackend backend;
  private final ReferencedObjects objects;
  private final Clock clock;
  private final java.nio.file.Path artifactsDir;
  private final Object capacity = new Object();

  LocalExecutor(ProviderSettings settings, SandboxBackend backend, ReferencedObjects objects, Clock clock) {
    this(settings, backend, objects, clock, line -> {}, null);
  }

  /**
   * @param progress where a long wait for a sandbox reports itself, a line at a time
   * @param artifactsDir where each execution's files go (a directory per execution), or null
   */
  LocalExecutor(ProviderSettings settings, SandboxBackend backend, ReferencedObjects objects, Clock clock,
      java.util.function.Consumer<String> progress, java.nio.file.Path artifactsDir) {
    this.progress = progress;
    this.artifactsDir = artifactsDir;
    this.settings = settings;
    this.backend = backend;
    this.objects = objects;
    this.clock = clock;
    backend.setCapacityListener(() -> {
      synchronized (capacity) {
        capacity.notifyAll();
      }
    });
  }

  /** Runs it and returns the status it ends with. */
  CodeExecutionStatus run(CodeExecution cx) {
    Instant now = clock.instant();
    List<String> problems = CodeExecutionValidator.validate(cx.getSpec());
    if (!problems.isEmpty()) {
      return CodeExecutionStatusCalculator.invalid(cx, problems, now);
    }
    if (cx.getSpec().getProviderRef() != null && !settings.name().equals(cx.getSpec().getProviderRef().getName())) {
      return CodeExecutionStatusCalculator.invalid(cx, List.of(
          "spec.providerRef names SandboxProvider " + cx.getSpec().getProviderRef().getName()
              + " but --provider is " + settings.name()), now);
    }
    ExecutionInputs.Resolution resolution = ExecutionInputs.resolve(cx.getMetadata().getNamespace(), cx.getSpec(), objects);
    if (resolution instanceof ExecutionInputs.Missing missing) {
      return CodeExecutionStatusCalculator.invalid(cx, List.of(missing.message() + " (pass it in -f or --secret)"), now);
    }
    if (resolution instanceof ExecutionInputs.Invalid invalid) {
      return CodeExecutionStatusCalculator.invalid(cx, List.of(invalid.message()), now);
    }
    if (resolution instanceof ExecutionInputs.NotAllowed notAllowed) { // not from LocalReferencedObjects
      return CodeExecutionStatusCalculator.refused(cx, notAllowed.reason(), notAllowed.message(), now);
    }
    ExecutionInputs inputs = ((ExecutionInputs.Resolved) resolution).inputs();
    problems = CodeExecutionValidator.validateAgainst(cx.getSpec(), settings, inputs.code());
    if (!problems.isEmpty()) {
      return CodeExecutionStatusCalculator.invalid(cx, problems, now);
    }
    Duration admission = Duration.ofSeconds(cx.getSpec().getAdmissionTimeoutSeconds() != null
        ? cx.getSpec().getAdmissionTimeoutSeconds() : CodeExecutionValidator.DEFAULT_ADMISSION_TIMEOUT_SECONDS);
    Optional<SandboxLease> lease = waitForSandbox(cx, admission);
    if (lease.isEmpty()) {
      Optional<StartFailure> failing = backend.startFailure();
      String message = failing
          .map(f -> "Sandboxes of SandboxProvider " + settings.name() + " fail to start (" + StartFailures.THRESHOLD
              + " times in a row, same error): " + f.error())
          .orElse("No sandbox became available within spec.admissionTimeoutSeconds (" + admission.toSeconds() + "s)");
      return CodeExecutionStatusCalculator.neverStarted(cx, message, clock.instant());
    }
    CodeExecutionStatus started =
        CodeExecutionStatusCalculator.started(cx, settings.name(), settings.type(), lease.get().sandboxId(), clock.instant());
    cx.setStatus(started);
    CodeExecutionSpec spec = cx.getSpec();
    ExecutionRequest request =
        new ExecutionRequest(
            cx.getMetadata().getNamespace(),
            cx.getMetadata().getName(),
            cx.getMetadata().getUid(),
            spec.getLanguage(),
            spec.getMode() == null ? ExecutionMode.FUNCTION : spec.getMode(),
            spec.getEntrypoint() == null ? "main" : spec.getEntrypoint(),
            inputs.code(),
            inputs.arguments(),
            Duration.ofSeconds(spec.getTimeoutSeconds() != null
                ? spec.getTimeoutSeconds() : settings.limits().defaultTimeoutSeconds()),
            settings.limits().maxOutputBytes(),
            inputs.codeFromSecret(),
            settings.limits().artifactLimits());
    ExecutionOutcome outcome;
    try {
      outcome = backend.execute(lease.get(), request, RunControl.detached());
    } catch (RuntimeException e) {
      outcome = ExecutionOutcome.failure(Termination.SANDBOX_FAILED, lease.get().sandboxId(), null, clock.instant(),
          "The backend failed: " + e.getMessage());
    }
    CodeExecutionStatus finished =
        CodeExecutionStatusCalculator.finished(cx, outcome, settings.limits().outputLimitAction(), clock.instant());
    LocalArtifacts.apply(cx, finished, outcome.report().against(outcome.exitCode()).artifacts(), artifactsDir);
    return finished;
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
        progress.accept(String.format("  %s/%s: still waiting for a sandbox after %ds (gives up after %ds)",
            cx.getMetadata().getNamespace(), cx.getMetadata().getName(), Duration.ofNanos(now - start).toSeconds(),
            admission.toSeconds()));
      }
      synchronized (capacity) {
        try {
          capacity.wait(250);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return Optional.empty();
        }
      }
    }
    return Optional.empty();
  }

  /** The exit status class of a finished execution: 0 success, 1 user code, 2 input or infrastructure. */
  static int exitClass(CodeExecutionStatus status) {
    String reason = dev.sandboxes.api.util.Conditions.reason(status.getConditions(), ConditionTypes.SUCCEEDED);
    if (dev.sandboxes.api.util.Conditions.isTrue(status.getConditions(), ConditionTypes.SUCCEEDED)) {
      return 0;
    }
    if (ConditionTypes.USER_CODE_ERROR.equals(reason) || ConditionTypes.TIMED_OUT.equals(reason)
        || ConditionTypes.OUT_OF_MEMORY.equals(reason) || ConditionTypes.OUTPUT_LIMIT_EXCEEDED.equals(reason)) {
      return 1;
    }
    return 2;
  }
}
