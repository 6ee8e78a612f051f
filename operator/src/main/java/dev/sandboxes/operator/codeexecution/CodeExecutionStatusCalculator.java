package dev.sandboxes.operator.codeexecution;

import static dev.sandboxes.api.util.Conditions.FALSE;
import static dev.sandboxes.api.util.Conditions.TRUE;
import static dev.sandboxes.api.util.Conditions.UNKNOWN;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionReason;
import dev.sandboxes.api.v1alpha1.CodeExecutionStatus;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.ExecutionMode;
import dev.sandboxes.api.v1alpha1.OutputLimitAction;
import dev.sandboxes.api.v1alpha1.Phase;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.api.v1alpha1.SandboxReference;
import dev.sandboxes.operator.execution.ExecutionOutcome;
import dev.sandboxes.operator.execution.ExecutionRequest;
import dev.sandboxes.operator.execution.Termination;
import dev.sandboxes.operator.runner.RunnerProgram;
import dev.sandboxes.operator.runner.RunnerReport;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Computes CodeExecution statuses: pure functions from the current object and an observation to a
 * new status. The phase is derived from the conditions here and nowhere else.
 */
public final class CodeExecutionStatusCalculator {

  private static final ObjectMapper JSON = new ObjectMapper();

  /** Linux signal names by number, for "killed by signal 11 (SIGSEGV, a segmentation fault)". */
  private static final List<String> SIGNALS =
      List.of(
          "",
          "SIGHUP",
          "SIGINT",
          "SIGQUIT",
          "SIGILL",
          "SIGTRAP",
          "SIGABRT",
          "SIGBUS",
          "SIGFPE",
          "SIGKILL",
          "SIGUSR1",
          "SIGSEGV: a segmentation fault",
          "SIGUSR2",
          "SIGPIPE",
          "SIGALRM",
          "SIGTERM",
          "SIGSTKFLT",
          "SIGCHLD",
          "SIGCONT",
          "SIGSTOP",
          "SIGTSTP",
          "SIGTTIN",
          "SIGTTOU",
          "SIGURG",
          "SIGXCPU",
          "SIGXFSZ",
          "SIGVTALRM",
          "SIGPROF",
          "SIGWINCH",
          "SIGIO",
          "SIGPWR",
          "SIGSYS");

  private CodeExecutionStatusCalculator() {}

  /** The reason and message of a finished execution, before they are written. */
  public record Verdict(boolean succeeded, CodeExecutionReason reason, String message) {}

  /** Invalid spec: final. Accepted=False and Succeeded=False, both InvalidSpec. */
  public static CodeExecutionStatus invalid(CodeExecution cx, List<String> problems, Instant now) {
    CodeExecutionStatus status = copy(cx);
    String message =
        "Invalid spec: " + String.join("; ", problems) + ". Fix it and create a new CodeExecution.";
    long generation = generation(cx);
    Conditions.set(
        status.getConditions(),
        ConditionTypes.ACCEPTED,
        FALSE,
        CodeExecutionReason.INVALID_SPEC,
        message,
        generation,
        now);
    Conditions.set(
        status.getConditions(),
        ConditionTypes.SUCCEEDED,
        FALSE,
        CodeExecutionReason.INVALID_SPEC,
        message,
        generation,
        now);
    status.setMessage(message);
    status.setCompletionTime(timestamp(now));
    return finish(status, generation);
  }

  /**
   * Refused for good before it started, for a reason other than the spec's form (e.g.
   * SecretNotAllowed): Accepted=False and Succeeded=False with that reason.
   */
  public static CodeExecutionStatus refused(
      CodeExecution cx, CodeExecutionReason reason, String problem, Instant now) {
    CodeExecutionStatus status = copy(cx);
    String message =
        sentence(problem, null)
            + " The execution did not run; create a new CodeExecution once this is fixed.";
    long generation = generation(cx);
    Conditions.set(
        status.getConditions(), ConditionTypes.ACCEPTED, FALSE, reason, message, generation, now);
    Conditions.set(
        status.getConditions(), ConditionTypes.SUCCEEDED, FALSE, reason, message, generation, now);
    status.setMessage(message);
    status.setCompletionTime(timestamp(now));
    return finish(status, generation);
  }

  /**
   * Final without having started: no sandbox could be had before spec.admissionTimeoutSeconds
   * passed (the provider was missing, or not Ready because its sandboxes fail to start).
   * Started=False and Succeeded=False, reason SandboxFailed; the message says the code did not run,
   * so retrying cannot run it twice.
   */
  public static CodeExecutionStatus neverStarted(CodeExecution cx, String problem, Instant now) {
    CodeExecutionStatus status = copy(cx);
    String message =
        sentence(problem, "No sandbox could be started")
            + " The code did not run; create a new CodeExecution once the provider is Ready.";
    long generation = generation(cx);
    Conditions.set(
        status.getConditions(),
        ConditionTypes.STARTED,
        FALSE,
        CodeExecutionReason.SANDBOX_FAILED,
        message,
        generation,
        now);
    Conditions.set(
        status.getConditions(),
        ConditionTypes.SUCCEEDED,
        FALSE,
        CodeExecutionReason.SANDBOX_FAILED,
        message,
        generation,
        now);
    status.setMessage(message);
    status.setCompletionTime(timestamp(now));
    return finish(status, generation);
  }

  /** Waiting for a provider or a referenced object: Accepted=False with the reason, Pending. */
  public static CodeExecutionStatus waiting(
      CodeExecution cx, CodeExecutionReason reason, String message, Instant now) {
    CodeExecutionStatus status = copy(cx);
    long generation = generation(cx);
    Conditions.set(
        status.getConditions(), ConditionTypes.ACCEPTED, FALSE, reason, message, generation, now);
    Conditions.set(
        status.getConditions(),
        ConditionTypes.SUCCEEDED,
        UNKNOWN,
        reason,
        message,
        generation,
        now);
    status.setMessage(message);
    return finish(status, generation);
  }

  /** Accepted and queued on a provider, waiting for a sandbox: reason WaitingForSandbox. */
  public static CodeExecutionStatus queued(
      CodeExecution cx, String provider, ProviderType type, Instant now) {
    CodeExecutionStatus status = copy(cx);
    long generation = generation(cx);
    String accepted = "Accepted by SandboxProvider " + provider + " (" + type.value() + ").";
    Conditions.set(
        status.getConditions(),
        ConditionTypes.ACCEPTED,
        TRUE,
        CodeExecutionReason.VALID,
        accepted,
        generation,
        now);
    String message =
        "Waiting for a free sandbox on SandboxProvider "
            + provider
            + "; executions run oldest first.";
    Conditions.set(
        status.getConditions(),
        ConditionTypes.SUCCEEDED,
        UNKNOWN,
        CodeExecutionReason.WAITING_FOR_SANDBOX,
        message,
        generation,
        now);
    if (status.getQueuedTime() == null) {
      status.setQueuedTime(timestamp(now));
    }
    status.setSandbox(sandbox(provider, type, null));
    status.setMessage(message);
    return finish(status, generation);
  }

  /**
   * The write-ahead record: Started=True before any code reaches the sandbox, so that a restarted
   * operator never runs it again.
   */
  public static CodeExecutionStatus started(
      CodeExecution cx, String provider, ProviderType type, String sandboxId, Instant now) {
    CodeExecutionStatus status = copy(cx);
    long generation = generation(cx);
    if (status.getQueuedTime() == null) {
      status.setQueuedTime(timestamp(now));
      Conditions.set(
          status.getConditions(),
          ConditionTypes.ACCEPTED,
          TRUE,
          CodeExecutionReason.VALID,
          "Accepted by SandboxProvider " + provider + " (" + type.value() + ").",
          generation,
          now);
    }
    String message = "Running on SandboxProvider " + provider + ".";
    Conditions.set(
        status.getConditions(),
        ConditionTypes.STARTED,
        TRUE,
        CodeExecutionReason.SANDBOX_ASSIGNED,
        message,
        generation,
        now);
    Conditions.set(
        status.getConditions(),
        ConditionTypes.SUCCEEDED,
        UNKNOWN,
        CodeExecutionReason.RUNNING,
        message,
        generation,
        now);
    status.setStartTime(timestamp(now));
    status.setSandbox(sandbox(provider, type, sandboxId));
    status.setMessage(message);
    return finish(status, generation);
  }

  /** The final status from what the backend observed, judged by the limits the request ran with. */
  public static CodeExecutionStatus finished(
      CodeExecution cx, ExecutionOutcome outcome, ExecutionRequest request, Instant now) {
    return finished(cx, outcome, request.outputLimitAction(), request.timeout(), now);
  }

  /**
   * The final status from what the backend observed.
   *
   * @param timeout the effective time limit the run had, named when it timed out
   */
  public static CodeExecutionStatus finished(
      CodeExecution cx,
      ExecutionOutcome outcome,
      OutputLimitAction outputLimitAction,
      Duration timeout,
      Instant now) {
    CodeExecutionStatus status = copy(cx);
    long generation = generation(cx);
    ExecutionMode mode =
        cx.getSpec().getMode() == null ? ExecutionMode.FUNCTION : cx.getSpec().getMode();
    String entrypoint =
        cx.getSpec().getEntrypoint() == null ? "main" : cx.getSpec().getEntrypoint();
    Verdict verdict =
        withDroppedNullsHint(
            cx,
            verdict(outcome, mode, entrypoint, outputLimitAction, (int) timeout.toSeconds()),
            outcome.report());
    Conditions.set(
        status.getConditions(),
        ConditionTypes.SUCCEEDED,
        verdict.succeeded() ? TRUE : FALSE,
        verdict.reason(),
        verdict.message(),
        generation,
        now);
    if (!Conditions.get(status.getConditions(), ConditionTypes.STARTED).isPresent()) {
      Conditions.set(
          status.getConditions(),
          ConditionTypes.STARTED,
          TRUE,
          CodeExecutionReason.SANDBOX_ASSIGNED,
          "Ran on SandboxProvider.",
          generation,
          now);
    }
    status.setExitCode(outcome.exitCode());
    status.setStdout(outcome.stdout().text());
    status.setStderr(outcome.stderr().text());
    status.setStdoutBytes(outcome.stdout().totalBytes());
    status.setStderrBytes(outcome.stderr().totalBytes());
    status.setStdoutTruncated(outcome.stdout().truncated());
    status.setStderrTruncated(outcome.stderr().truncated());
    status.setResult(
        verdict.succeeded() && mode == ExecutionMode.FUNCTION
            ? outcome.report().against(outcome.exitCode()).result()
            : null);
    if (outcome.sandboxId() != null) {
      SandboxReference sandbox =
          status.getSandbox() == null ? new SandboxReference() : status.getSandbox();
      sandbox.setId(outcome.sandboxId());
      status.setSandbox(sandbox);
    }
    Instant start =
        outcome.startTime() != null ? outcome.startTime() : parse(status.getStartTime(), now);
    Instant end = outcome.completionTime() != null ? outcome.completionTime() : now;
    if (status.getStartTime() == null) {
      status.setStartTime(timestamp(start));
    }
    status.setCompletionTime(timestamp(end));
    long millis = Math.max(0, Duration.between(start, end).toMillis());
    status.setDurationMillis(millis);
    status.setDuration(humanDuration(millis));
    status.setMessage(verdict.message());
    return finish(status, generation);
  }

  /**
   * A pending execution whose reconcile failed and is being retried: the same status with a message
   * saying so. It names the error's type only: its text may quote more than a status should show.
   */
  public static CodeExecutionStatus retrying(CodeExecution cx, Exception error) {
    CodeExecutionStatus status = copy(cx);
    status.setMessage(
        "The operator could not process this CodeExecution ("
            + error.getClass().getSimpleName()
            + ") and retries; the operator's log has the details.");
    status.setPhase(phase(status));
    return status;
  }

  /** Started earlier but the outcome is lost (operator restart); final. */
  public static CodeExecutionStatus interrupted(CodeExecution cx, String detail, Instant now) {
    return finished(
        cx,
        ExecutionOutcome.failure(
            Termination.INTERRUPTED,
            cx.getStatus() != null && cx.getStatus().getSandbox() != null
                ? cx.getStatus().getSandbox().getId()
                : null,
            null,
            now,
            detail),
        OutputLimitAction.TRUNCATE,
        Duration.ZERO,
        now); // limits play no part in Interrupted
  }

  /** How an outcome reads as a condition. The exit code decides; stderr alone never fails a run. */
  public static Verdict verdict(
      ExecutionOutcome outcome,
      ExecutionMode mode,
      String entrypoint,
      OutputLimitAction action,
      int timeoutSeconds) {
    RunnerReport report = outcome.report();
    String detail = outcome.detail();
    switch (outcome.termination()) {
      case TIMED_OUT:
        return new Verdict(
            false,
            CodeExecutionReason.TIMED_OUT,
            "Killed after the time limit of "
                + timeoutSeconds
                + "s (spec.timeoutSeconds); raise the limit or make the code faster.");
      case OUT_OF_MEMORY:
        return new Verdict(
            false,
            CodeExecutionReason.OUT_OF_MEMORY,
            sentence(detail, "Killed at the sandbox's memory limit")
                + " Use less memory or raise the provider's memory limit.");
      case SANDBOX_FAILED:
        return new Verdict(
            false,
            CodeExecutionReason.SANDBOX_FAILED,
            sentence(detail, "The sandbox failed")
                + " The code's own outcome is unknown; create a new CodeExecution to retry.");
      case INTERRUPTED:
        return new Verdict(
            false,
            CodeExecutionReason.INTERRUPTED,
            sentence(
                    detail,
                    "The operator restarted while this execution ran and its outcome could not be recovered")
                + " It was not run again; create a new CodeExecution to retry.");
      case CANCELLED:
        return new Verdict(
            false,
            CodeExecutionReason.INTERRUPTED,
            sentence(detail, "The execution was cancelled"));
      case EXITED:
      default:
        break;
    }
    Integer exit = outcome.exitCode();
    // Records are checked against the exit code: the runner's done record never contradicts how
    // its process ended. The report never decides OutOfMemory: only the backend's evidence does.
    report = report.against(exit);
    if (exit != null
        && exit == RunnerProgram.ENVELOPE_ERROR_EXIT_CODE
        && !report.finished()
        && !report.isUntrusted()) {
      return new Verdict(
          false,
          CodeExecutionReason.SANDBOX_FAILED,
          "The sandbox runner could not start the code (exit 70); the sandbox image may lack a compatible python3 or node.");
    }
    if (exit != null
        && exit == RunnerProgram.ALREADY_USED_EXIT_CODE
        && !report.finished()
        && !report.isUntrusted()) {
      // The runner's once-only guard: another runner in this sandbox had taken an envelope first.
      return new Verdict(
          false,
          CodeExecutionReason.SANDBOX_FAILED,
          "The sandbox had already received a program (the runner's once-only marker existed, exit 73), so the code was"
              + " not run in it. It was not run again; create a new CodeExecution to retry.");
    }
    if (report.isUntrusted()) {
      return new Verdict(
          false,
          CodeExecutionReason.USER_CODE_ERROR,
          "The runner's records cannot be believed ("
              + report.untrusted()
              + "): code in the sandbox wrote records of its"
              + " own, so neither a result nor an error from them is used. The program exited with code "
              + exit
              + ". See status.stderr.");
    }
    if (exit == null || exit != 0) {
      String what;
      if (report.isError() && report.message() != null) {
        what =
            ("Exception".equals(report.kind())
                    ? "The code raised "
                    : "MemoryError".equals(report.kind())
                        ? "The code's process could not allocate memory: "
                        : "")
                + report.message()
                + " (exit code "
                + exit
                + ")";
      } else if (exit != null && exit > 128 && exit < 128 + SIGNALS.size() && !report.finished()) {
        what =
            "The program was killed by signal "
                + (exit - 128)
                + " ("
                + SIGNALS.get(exit - 128)
                + ", exit code "
                + exit
                + ")"
                + (detail == null ? "" : ". " + detail);
      } else {
        what = "The program exited with code " + exit;
      }
      return new Verdict(
          false, CodeExecutionReason.USER_CODE_ERROR, sentence(what, null) + " See status.stderr.");
    }
    if (report.resultProblem() != null && mode == ExecutionMode.FUNCTION) {
      return new Verdict(
          false,
          CodeExecutionReason.USER_CODE_ERROR,
          sentence(report.resultProblem(), null) + " Return a smaller value.");
    }
    boolean cut = outcome.stdout().truncated() || outcome.stderr().truncated();
    if (cut && action == OutputLimitAction.FAIL) {
      return new Verdict(
          false,
          CodeExecutionReason.OUTPUT_LIMIT_EXCEEDED,
          "The output exceeded the provider's maxOutputBytes (stdout "
              + outcome.stdout().totalBytes()
              + " bytes, stderr "
              + outcome.stderr().totalBytes()
              + " bytes); print less or raise the limit.");
    }
    String message;
    if (mode == ExecutionMode.FUNCTION && (!report.finished() || "exit".equals(report.status()))) {
      message =
          "The program exited with code 0 before "
              + entrypoint
              + "() returned; there is no result.";
    } else if (mode == ExecutionMode.FUNCTION) {
      message =
          entrypoint
              + "() returned"
              + (report.result() == null ? " no value." : "; the value is in status.result.");
    } else {
      message = "The program exited with code 0.";
    }
    if (cut) {
      message +=
          " Output was cut at maxOutputBytes; stdoutBytes and stderrBytes give the full size.";
    }
    if (detail != null && !detail.isBlank()) {
      message += " " + sentence(detail, null); // e.g. processes the code left running were stopped
    }
    return new Verdict(true, CodeExecutionReason.COMPLETED, message);
  }

  /**
   * Issue 18: client-side {@code kubectl apply} deletes every key whose value is null from
   * spec.arguments (its three-way merge reads null as "remove this field"), so main(a, nothing)
   * then fails with a TypeError that seems to blame the code. When a parameter is missing and the
   * manifest had arguments, the message says so and names the ways that keep nulls.
   */
  static Verdict withDroppedNullsHint(CodeExecution cx, Verdict verdict, RunnerReport report) {
    boolean hadArguments =
        cx.getSpec().getArguments() != null
            || (cx.getMetadata() != null
                && cx.getMetadata().getAnnotations() != null
                && cx.getMetadata().getAnnotations().containsKey(LAST_APPLIED));
    if (verdict.succeeded()
        || !hadArguments
        || report == null
        || !"Exception".equals(report.kind())
        || report.message() == null
        || !MISSING_PARAMETER.matcher(report.message()).find()) {
      return verdict;
    }
    return new Verdict(
        false,
        verdict.reason(),
        verdict.message()
            + " If the manifest gave this argument the value null: client-side kubectl apply drops null values from"
            + " spec.arguments; put the arguments in spec.argumentsJSON (a JSON string kept verbatim), or use kubectl"
            + " apply --server-side or kubectl create.");
  }

  /** Python's TypeError for a parameter the call did not supply. */
  private static final java.util.regex.Pattern MISSING_PARAMETER =
      java.util.regex.Pattern.compile(
          "^TypeError: .*missing \\d+ required (positional|keyword-only) arguments?: ");

  /** The annotation client-side kubectl apply keeps the applied manifest in. */
  private static final String LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

  /** The phase, computed from the conditions. */
  public static Phase phase(CodeExecutionStatus status) {
    if (Conditions.isTrue(status.getConditions(), ConditionTypes.SUCCEEDED)) {
      return Phase.SUCCEEDED;
    }
    if (Conditions.isFalse(status.getConditions(), ConditionTypes.SUCCEEDED)) {
      return Phase.FAILED;
    }
    if (Conditions.isTrue(status.getConditions(), ConditionTypes.STARTED)) {
      return Phase.RUNNING;
    }
    return Phase.PENDING;
  }

  /** Whether the execution has finished for good. */
  public static boolean isTerminal(CodeExecutionStatus status) {
    return status != null
        && Conditions.get(status.getConditions(), ConditionTypes.SUCCEEDED)
            .map(c -> !UNKNOWN.equals(c.getStatus()))
            .orElse(false);
  }

  /** Whether a sandbox may already have received the code (the write-ahead record exists). */
  public static boolean isStarted(CodeExecutionStatus status) {
    return status != null && Conditions.isTrue(status.getConditions(), ConditionTypes.STARTED);
  }

  /** "153ms", "2.41s", "3m05s". */
  public static String humanDuration(long millis) {
    if (millis < 1000) {
      return millis + "ms";
    }
    if (millis < 60_000) {
      return String.format(Locale.ROOT, "%.2fs", millis / 1000.0);
    }
    long seconds = millis / 1000;
    return String.format(Locale.ROOT, "%dm%02ds", seconds / 60, seconds % 60);
  }

  /** RFC 3339 with millisecond precision. */
  public static String timestamp(Instant instant) {
    return instant.truncatedTo(ChronoUnit.MILLIS).toString();
  }

  private static String sentence(String text, String fallback) {
    String value = text == null || text.isBlank() ? fallback : text.trim();
    if (value == null) {
      return "";
    }
    return value.endsWith(".") ? value : value + ".";
  }

  private static SandboxReference sandbox(String provider, ProviderType type, String id) {
    SandboxReference sandbox = new SandboxReference();
    sandbox.setProvider(provider);
    sandbox.setType(type);
    sandbox.setId(id);
    return sandbox;
  }

  private static CodeExecutionStatus finish(CodeExecutionStatus status, long generation) {
    status.setObservedGeneration(generation);
    status.setPhase(phase(status));
    return status;
  }

  private static long generation(CodeExecution cx) {
    Long generation = cx.getMetadata().getGeneration();
    return generation == null ? 1L : generation;
  }

  private static Instant parse(String timestamp, Instant fallback) {
    try {
      return timestamp == null ? fallback : Instant.parse(timestamp);
    } catch (RuntimeException e) {
      return fallback;
    }
  }

  /**
   * A deep copy of the current status (never mutate objects from the informer cache). Refuses a
   * pruned cached copy of a finished execution: its stdout, stderr and result are not in it, and a
   * status built from it would erase them. Read the object first ({@link ExecutionStore#read}).
   * Unfinished executions carry no output the operator would keep, and the final statuses set it.
   */
  static CodeExecutionStatus copy(CodeExecution cx) {
    if (ExecutionCachePruning.isPruned(cx) && isTerminal(cx.getStatus())) {
      throw new IllegalStateException(
          "the status of finished CodeExecution "
              + cx.getMetadata().getNamespace()
              + "/"
              + cx.getMetadata().getName()
              + " must be computed from a complete read, not from the pruned cached copy");
    }
    if (cx.getStatus() == null) {
      CodeExecutionStatus fresh = new CodeExecutionStatus();
      fresh.setConditions(new ArrayList<>());
      return fresh;
    }
    CodeExecutionStatus copy = JSON.convertValue(cx.getStatus(), CodeExecutionStatus.class);
    if (copy.getConditions() == null) {
      copy.setConditions(new ArrayList<>());
    }
    return copy;
  }
}
