package dev.sandboxes.operator.backend.aliyun;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.operator.backend.RunControl;
import dev.sandboxes.operator.execution.ExecutionOutcome;
import dev.sandboxes.operator.execution.ExecutionRequest;
import dev.sandboxes.operator.execution.Termination;
import dev.sandboxes.operator.runner.RunnerProgram;
import dev.sandboxes.operator.runner.RunnerStreams;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.regex.Pattern;

/**
 * One execution in one AgentRun sandbox: record the sandbox id, create the sandbox (waiting out
 * throttling), wait until it is ready, write the runner and the envelope as files, run the runner
 * with a shell command, and classify the answer. The backend deletes the sandbox afterwards,
 * whatever happened.
 */
final class AgentRunExecution {

  /** Where the runner, the envelope and the user's code run inside the sandbox. */
  static final String WORK_DIR = "/tmp/sandbox-operator";
  private static final Set<String> USABLE = Set.of("READY", "RUNNING");
  private static final Set<String> TERMINAL =
      Set.of("TERMINATED", "FAILED", "CREATE_FAILED", "DELETING", "DELETED", "STOPPED", "STOPPING");
  /** How much longer than the time limit the command's answer may take before the deadline must have ended it. */
  private static final Duration ANSWER_GRACE = Duration.ofSeconds(30);
  private static final Pattern BASE64_TEXT = Pattern.compile("[A-Za-z0-9+/=\\s]*");

  /** A failure with a finished sentence for the status message. */
  private static final class Failed extends Exception {
    Failed(String message) {
      super(message, null, false, false);
    }
  }

  private final AgentRunControlClient control;
  private final AgentRunDataClient data;
  private final Throttle throttle;
  private final AgentRunTimings timings;
  private final ScheduledExecutorService scheduler;
  private final Clock clock;
  private final String sandboxId;
  private final String template;
  private final ExecutionRequest request;
  private final RunControl runControl;
  private final Abort abort = new Abort();
  private String nonce;
  private volatile boolean creationUncertain;

  AgentRunExecution(
      AgentRunControlClient control, AgentRunDataClient data, Throttle throttle, AgentRunTimings timings,
      ScheduledExecutorService scheduler, Clock clock, String sandboxId, String template, ExecutionRequest request,
      RunControl runControl) {
    this.control = control;
    this.data = data;
    this.throttle = throttle;
    this.timings = timings;
    this.scheduler = scheduler;
    this.clock = clock;
    this.sandboxId = sandboxId;
    this.template = template;
    this.request = request;
    this.runControl = runControl;
  }

  /** Whether CreateSandbox went unanswered, so the sandbox may appear after the deletion. */
  boolean creationUncertain() {
    return creationUncertain;
  }

  /**
   * Runs the execution up to the point where the sandbox must be deleted; the caller deletes it.
   * Never throws for AgentRun failures: they become outcomes.
   */
  ExecutionOutcome run() {
    runControl.onCancel(() -> abort.fire(Abort.Reason.CANCELLED));
    Instant[] codeStarted = new Instant[1];
    try {
      provision();
      writeInputs();
      return runCode(codeStarted);
    } catch (Abort.AbortedException e) {
      Instant now = clock.instant();
      if (e.reason() == Abort.Reason.DEADLINE) {
        return ExecutionOutcome.failure(Termination.TIMED_OUT, sandboxId, codeStarted[0], now,
            "AgentRun's synchronous command API returns no output of a command it did not finish");
      }
      return ExecutionOutcome.failure(Termination.CANCELLED, sandboxId, codeStarted[0], now,
          "The CodeExecution was deleted while it ran; its AgentRun sandbox was deleted");
    } catch (Failed e) {
      return ExecutionOutcome.failure(Termination.SANDBOX_FAILED, sandboxId, codeStarted[0], clock.instant(), e.getMessage());
    } catch (AgentRunException e) {
      return ExecutionOutcome.failure(Termination.SANDBOX_FAILED, sandboxId, codeStarted[0], clock.instant(),
          e.getMessage());
    }
  }

  /** Creates the sandbox (idempotently, waiting out throttling) and waits until it is ready. */
  private void provision() throws AgentRunException, Abort.AbortedException, Failed {
    Instant quotaDeadline = clock.instant().plus(timings.quotaWait());
    String status;
    for (;;) {
      abort.check();
      try {
        JsonNode sandbox = control.createSandbox(sandboxId, template, timings.sandboxIdleTimeoutSeconds(), abort);
        throttle.succeeded();
        status = AgentRunHttp.text(sandbox, "status");
        break;
      } catch (AgentRunException e) {
        if (e.kind() == AgentRunException.Kind.THROTTLED) {
          Duration wait = throttle.throttled(e.retryAfter());
          if (clock.instant().plus(wait).isAfter(quotaDeadline)) {
            throw new Failed("AgentRun refused to create a sandbox for " + timings.quotaWait().toSeconds()
                + "s (quota exhausted or throttled; last answer: " + e.getMessage() + ")");
          }
          abort.sleep(wait);
          continue;
        }
        if (e.kind() == AgentRunException.Kind.CONFLICT) {
          // A retried create whose first attempt did succeed: the id is this execution's own.
          status = control.getSandbox(sandboxId, abort).map(s -> AgentRunHttp.text(s, "status"))
              .orElseThrow(() -> new Failed("AgentRun said sandbox " + sandboxId + " already exists but cannot find it"));
          break;
        }
        if (e.kind() == AgentRunException.Kind.NOT_FOUND) {
          throw new Failed("AgentRun cannot create a sandbox from template " + template + ": " + e.getMessage());
        }
        // No answer: the service may still create the sandbox after the operator gave up on it.
        creationUncertain = e.kind() == AgentRunException.Kind.CONNECTION || e.kind() == AgentRunException.Kind.SERVER;
        throw e;
      }
    }
    Instant readyDeadline = clock.instant().plus(timings.provisionTimeout());
    // No status at all: the health check below is the readiness signal then.
    while (status != null && !USABLE.contains(status.toUpperCase(Locale.ROOT))) {
      if (TERMINAL.contains(status.toUpperCase(Locale.ROOT))) {
        throw new Failed("AgentRun sandbox " + sandboxId + " failed to start (status " + status + ")");
      }
      if (clock.instant().isAfter(readyDeadline)) {
        throw new Failed("AgentRun sandbox " + sandboxId + " was not READY within " + timings.provisionTimeout().toSeconds()
            + "s (status " + status + ")");
      }
      abort.sleep(timings.pollInterval());
      status = control.getSandbox(sandboxId, abort).map(s -> AgentRunHttp.text(s, "status"))
          .orElseThrow(() -> new Failed("AgentRun sandbox " + sandboxId + " disappeared while it started"));
    }
    while (!data.healthy(sandboxId, abort)) {
      if (clock.instant().isAfter(readyDeadline)) {
        throw new Failed("AgentRun sandbox " + sandboxId + " did not pass its health check within "
            + timings.provisionTimeout().toSeconds() + "s");
      }
      abort.sleep(timings.pollInterval());
    }
  }

  /** The runner's source and the envelope go in as files: code and arguments stay data. */
  private void writeInputs() throws AgentRunException, Abort.AbortedException {
    data.writeFile(sandboxId, WORK_DIR + "/" + runnerFile(request.language()), RunnerProgram.source(request.language()), "644", abort);
    ExecutionRequest.Envelope envelope = request.newEnvelope();
    nonce = envelope.nonce();
    data.writeFile(sandboxId, WORK_DIR + "/envelope.json", new String(envelope.line(), StandardCharsets.UTF_8), "600", abort);
  }

  private ExecutionOutcome runCode(Instant[] codeStarted) throws AgentRunException, Abort.AbortedException, Failed {
    RunnerStreams streams = new RunnerStreams(nonce, request.maxOutputBytes());
    int seconds = (int) Math.max(1, Math.min(Integer.MAX_VALUE, request.timeout().toSeconds()));
    codeStarted[0] = clock.instant();
    ScheduledFuture<?> deadline = abort.deadlineAfter(request.timeout(), scheduler);
    AgentRunDataClient.CommandResult result;
    try {
      result = data.runCommand(sandboxId, command(request.language()), WORK_DIR, seconds, request.timeout().plus(ANSWER_GRACE), abort);
    } catch (AgentRunException e) {
      if (e.kind() == AgentRunException.Kind.NOT_FOUND) {
        throw new Failed("AgentRun sandbox " + sandboxId + " vanished during the execution (" + e.getMessage() + ")");
      }
      throw e;
    } finally {
      deadline.cancel(false);
    }
    abort.check(); // the deadline may have passed just as the answer came
    Instant finished = clock.instant();
    String status = result.status() == null ? "" : result.status().toLowerCase(Locale.ROOT);
    if (status.contains("timeout") || status.contains("timed")) {
      return ExecutionOutcome.failure(Termination.TIMED_OUT, sandboxId, codeStarted[0], finished,
          "AgentRun stopped the command at its time limit");
    }
    try {
      streams.stdout().write(decodeStdout(result.stdout()));
      streams.stderr().write(result.stderr().getBytes(StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } finally {
      streams.finish();
    }
    if (result.exitCode() == null) {
      throw new Failed("AgentRun's answer to the command had no exit code (status " + result.status() + ")");
    }
    return new ExecutionOutcome(Termination.EXITED, result.exitCode(), streams.stdoutCapture(), streams.stderrCapture(),
        streams.report(), sandboxId, codeStarted[0], finished, null);
  }

  /**
   * The shell command that runs the runner. The runner's argv is RunnerProgram's, with its source
   * read from the file; the envelope arrives on stdin from a file; nothing from the request is in
   * the command. stdout goes through base64 because the service returns it as JSON text, which
   * would mangle bytes that are not UTF-8 (the runner's record framing may split a character);
   * the exit code is the runner's. sh -c '…' works whether the service runs the command through a
   * shell or splits it into arguments the shell's way.
   */
  static String command(Language language) {
    List<String> argv = RunnerProgram.command(language);
    String interpreter = String.join(" ", argv.subList(0, argv.size() - 1));
    String script = "{ " + interpreter + " \"$(cat " + runnerFile(language) + ")\" <envelope.json; echo $? >exit-code; }"
        + " | base64; exit \"$(cat exit-code)\"";
    if (script.indexOf('\'') >= 0) {
      throw new IllegalStateException("the command must not contain a single quote");
    }
    return "sh -c '" + script + "'";
  }

  static String runnerFile(Language language) {
    return language == Language.PYTHON ? "runner.py" : "runner.js";
  }

  /** base64 of the runner's stdout; if it is not base64 (no shell pipeline ran), the text as it came. */
  static byte[] decodeStdout(String text) {
    if (BASE64_TEXT.matcher(text).matches()) {
      try {
        return Base64.getMimeDecoder().decode(text);
      } catch (IllegalArgumentException e) {
        // not base64 after all
      }
    }
    return text.getBytes(StandardCharsets.UTF_8);
  }
}
