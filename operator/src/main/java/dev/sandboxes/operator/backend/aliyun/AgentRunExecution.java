package dev.sandboxes.operator.backend.aliyun;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sandboxes.operator.backend.RunControl;
import dev.sandboxes.operator.backend.RunGuard;
import dev.sandboxes.operator.execution.ExecutionOutcome;
import dev.sandboxes.operator.execution.ExecutionRequest;
import dev.sandboxes.operator.execution.Termination;
import dev.sandboxes.operator.runner.RunnerProgram;
import dev.sandboxes.operator.runner.RunnerStreams;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;

/**
 * One execution in one AgentRun sandbox: create the sandbox on the data plane (waiting out
 * throttling), wait until its health check passes, write the runner and the envelope as files, run
 * {@link AgentRunCommand}, and classify the answer. The backend deletes the sandbox afterwards,
 * whatever happened.
 */
final class AgentRunExecution {

  /** Where the runner, the envelope and the user's code run inside the sandbox. */
  static final String WORK_DIR = "/tmp/sandbox-operator";

  private static final Set<String> TERMINAL =
      Set.of("TERMINATED", "FAILED", "CREATE_FAILED", "DELETING", "DELETED", "STOPPED", "STOPPING");

  /**
   * How much longer than the time limit the command's answer may take before the deadline must have
   * ended it.
   */
  private static final Duration ANSWER_GRACE = Duration.ofSeconds(30);

  /** Every this many unhealthy polls, GetSandbox tells whether the sandbox failed for good. */
  private static final int STATUS_CHECK_EVERY = 4;

  /** A failure with a finished sentence for the status message. */
  private static final class Failed extends Exception {
    Failed(String message) {
      super(message, null, false, false);
    }
  }

  /** Where the sandbox ids come from; shared by all executions of one backend. */
  interface Ids {
    /** The id to create this execution's sandbox with, or null when the service must choose. */
    String chosenId(String executionUid);

    /** The service refused a chosen id: from now on it chooses. */
    void refused(String reason);
  }

  private final AgentRunDataClient data;
  private final Throttle throttle;
  private final AgentRunTimings timings;
  private final ScheduledExecutorService scheduler;
  private final Clock clock;
  private final Ids ids;
  private final String template;
  private final ExecutionRequest request;
  private final RunControl runControl;
  private final RunGuard abort = new RunGuard();
  private String nonce;
  private volatile String sandboxId;
  private volatile boolean creationUncertain;
  private volatile boolean created;

  AgentRunExecution(
      AgentRunDataClient data,
      Throttle throttle,
      AgentRunTimings timings,
      ScheduledExecutorService scheduler,
      Clock clock,
      Ids ids,
      String template,
      ExecutionRequest request,
      RunControl runControl) {
    this.data = data;
    this.throttle = throttle;
    this.timings = timings;
    this.scheduler = scheduler;
    this.clock = clock;
    this.ids = ids;
    this.template = template;
    this.request = request;
    this.runControl = runControl;
  }

  /** The sandbox this run created or recorded, or null. */
  String sandboxId() {
    return sandboxId;
  }

  /** Whether CreateSandbox went unanswered, so the sandbox may appear after the deletion. */
  boolean creationUncertain() {
    return creationUncertain;
  }

  private volatile boolean healthy;

  /**
   * Whether {@link #sandboxId()} may exist: it was created, or its creation's outcome is unknown.
   */
  boolean sandboxMayExist() {
    return created || creationUncertain;
  }

  /**
   * Runs the execution up to the point where the sandbox must be deleted; the caller deletes {@link
   * #sandboxId()}. Never throws for AgentRun failures: they become outcomes.
   */
  ExecutionOutcome run() {
    runControl.onCancel(() -> abort.stop(RunGuard.Stop.CANCELLED));
    Instant[] codeStarted = new Instant[1];
    try {
      provision();
      writeInputs();
      return runCode(codeStarted);
    } catch (RunGuard.StoppedException e) {
      Instant now = clock.instant();
      if (e.stop() == RunGuard.Stop.DEADLINE) {
        return ExecutionOutcome.failure(
            Termination.TIMED_OUT,
            sandboxId,
            codeStarted[0],
            now,
            "AgentRun's synchronous command API returns no output of a command it did not finish");
      }
      return ExecutionOutcome.failure(
          Termination.CANCELLED,
          sandboxId,
          codeStarted[0],
          now,
          "The CodeExecution was deleted while it ran; its AgentRun sandbox was deleted");
    } catch (Failed e) {
      return ExecutionOutcome.failure(
          Termination.SANDBOX_FAILED, sandboxId, codeStarted[0], clock.instant(), e.getMessage());
    } catch (AgentRunException e) {
      return ExecutionOutcome.failure(
          Termination.SANDBOX_FAILED, sandboxId, codeStarted[0], clock.instant(), e.getMessage());
    }
  }

  // ---- provisioning ----

  /** Creates the sandbox (waiting out throttling) and waits until its health check passes. */
  private void provision() throws AgentRunException, RunGuard.StoppedException, Failed {
    String chosen = ids.chosenId(request.uid());
    if (chosen != null) {
      // Before the sandbox exists: a restarted operator finds the id in the status and deletes it.
      assign(chosen);
    }
    JsonNode sandbox = create(chosen);
    created = true;
    String createdId = AgentRunHttp.text(sandbox, "sandboxId");
    if (sandboxId == null) {
      if (createdId == null) {
        throw new Failed("AgentRun created a sandbox but did not say its id");
      }
      assign(createdId); // the service chose the id: recorded now, before any code is sent
    }
    awaitHealthy(AgentRunHttp.text(sandbox, "status"));
    healthy = true;
  }

  /** Whether the sandbox passed its health check: AgentRun started it. */
  boolean sandboxStarted() {
    return healthy;
  }

  private void assign(String id) throws Failed {
    try {
      runControl.sandboxAssigned(id);
    } catch (RuntimeException e) {
      if (sandboxId == null) {
        throw new Failed(
            "The sandbox id could not be recorded in the status ("
                + e.getMessage()
                + "), so no sandbox was"
                + " created");
      }
      throw new Failed(
          "The sandbox id could not be recorded in the status ("
              + e.getMessage()
              + "), so the code was not"
              + " sent");
    } finally {
      sandboxId = id;
    }
  }

  /**
   * CreateSandbox, waiting out throttling. With a chosen id, a refusal or a failure whose outcome
   * is unknown first looks the id up: a sandbox with it is this execution's own (a retry whose
   * first attempt did succeed), whatever wording the refusal used.
   */
  private JsonNode create(String chosen)
      throws AgentRunException, RunGuard.StoppedException, Failed {
    Instant quotaDeadline = clock.instant().plus(timings.quotaWait());
    for (; ; ) {
      abort.check();
      try {
        JsonNode sandbox =
            data.createSandbox(template, chosen, timings.sandboxIdleTimeoutSeconds(), abort);
        throttle.succeeded();
        return sandbox;
      } catch (RunGuard.StoppedException aborted) {
        creationUncertain = true; // the call may have reached the service before the abort
        throw aborted;
      } catch (AgentRunException e) {
        if (e.kind() == AgentRunException.Kind.THROTTLED) {
          waitOutThrottling(e, quotaDeadline, "create a sandbox");
          continue;
        }
        if (e.kind() == AgentRunException.Kind.CREDENTIALS) {
          throw e;
        }
        boolean refused =
            e.kind() == AgentRunException.Kind.CONFLICT
                || e.kind() == AgentRunException.Kind.CLIENT;
        if (chosen != null && (refused || e.transientFailure())) {
          Optional<JsonNode> existing = lookUp(chosen);
          if (existing.isPresent()) {
            throttle.succeeded();
            return existing.get();
          }
        }
        if (e.kind() == AgentRunException.Kind.CLIENT && chosen != null) {
          // The format of a chosen id is not documented: if the service refuses ours, let it
          // choose.
          JsonNode withoutId = createWithoutChosenId(e, quotaDeadline);
          if (withoutId != null) {
            return withoutId;
          }
          throw e;
        }
        if (e.kind() == AgentRunException.Kind.NOT_FOUND) {
          throw new Failed(
              "AgentRun cannot create a sandbox from template " + template + ": " + e.getMessage());
        }
        if (e.transientFailure()) {
          creationUncertain = true; // the service may still create it after the operator gave up
        }
        throw e;
      }
    }
  }

  /** GetSandbox of a chosen id; empty when it does not exist or cannot be told now. */
  private Optional<JsonNode> lookUp(String id) throws RunGuard.StoppedException {
    try {
      return data.getSandbox(id, abort)
          .filter(
              s ->
                  !TERMINAL.contains(
                      String.valueOf(AgentRunHttp.text(s, "status")).toUpperCase(Locale.ROOT)));
    } catch (AgentRunException e) {
      return Optional.empty();
    }
  }

  /**
   * Tries CreateSandbox once more without a chosen id; null when that fails too (not the id's
   * fault).
   */
  private JsonNode createWithoutChosenId(AgentRunException refusal, Instant quotaDeadline)
      throws AgentRunException, RunGuard.StoppedException {
    for (; ; ) {
      try {
        JsonNode sandbox =
            data.createSandbox(template, null, timings.sandboxIdleTimeoutSeconds(), abort);
        throttle.succeeded();
        ids.refused(refusal.getMessage());
        sandboxId = null; // the chosen id was never created; the service's id is recorded next
        return sandbox;
      } catch (AgentRunException e) {
        if (e.kind() == AgentRunException.Kind.THROTTLED) {
          try {
            waitOutThrottling(e, quotaDeadline, "create a sandbox");
          } catch (Failed failed) {
            return null;
          }
          continue;
        }
        if (e.kind() == AgentRunException.Kind.CONNECTION && !e.notSent()) {
          creationUncertain = true;
        }
        return null;
      }
    }
  }

  /** Provider-wide backoff after a throttled answer; this execution waits it out too. */
  private Duration waitOutThrottling(AgentRunException e, Instant giveUp, String what)
      throws RunGuard.StoppedException, Failed {
    Duration wait = throttle.throttled(e.retryAfter());
    if (clock.instant().plus(wait).isAfter(giveUp)) {
      throw new Failed(
          "AgentRun refused to "
              + what
              + " for "
              + timings.quotaWait().toSeconds()
              + "s (quota exhausted or throttled; last answer: "
              + e.getMessage()
              + ")");
    }
    abort.sleep(wait);
    return wait;
  }

  /**
   * Polls the health check as the official SDK does: every error and every status but ok means "not
   * ready yet", for up to the provision timeout. Throttled answers back off (provider-wide) without
   * using up that time; GetSandbox now and then ends the wait early for a sandbox that failed or
   * vanished.
   */
  private void awaitHealthy(String createdStatus)
      throws AgentRunException, RunGuard.StoppedException, Failed {
    failIfTerminal(createdStatus);
    Instant deadline = clock.instant().plus(timings.provisionTimeout());
    Instant quotaDeadline = clock.instant().plus(timings.quotaWait());
    String last = "no answer yet";
    for (int poll = 1; ; poll++) {
      abort.check();
      AgentRunDataClient.Health health = data.health(sandboxId, abort);
      if (health.ok()) {
        return;
      }
      last = health.detail();
      if (health.error() != null && health.error().kind() == AgentRunException.Kind.THROTTLED) {
        deadline =
            deadline.plus(
                waitOutThrottling(health.error(), quotaDeadline, "answer the health check"));
        continue;
      }
      if (poll % STATUS_CHECK_EVERY == 0
          || health.error() != null && health.error().kind() == AgentRunException.Kind.NOT_FOUND) {
        Optional<String> status = status();
        if (status.isEmpty()) {
          throw new Failed("AgentRun sandbox " + sandboxId + " disappeared while it started");
        }
        failIfTerminal(status.get());
      }
      if (clock.instant().isAfter(deadline)) {
        throw new Failed(
            "AgentRun sandbox "
                + sandboxId
                + " did not pass its health check within "
                + timings.provisionTimeout().toSeconds()
                + "s (last answer: "
                + last
                + ")");
      }
      abort.sleep(timings.pollInterval());
    }
  }

  /**
   * GetSandbox's status; empty when the sandbox is gone. Throttling and 5xx count as "still there".
   */
  private Optional<String> status() throws RunGuard.StoppedException {
    try {
      return data.getSandbox(sandboxId, abort)
          .map(
              s -> {
                String status = AgentRunHttp.text(s, "status");
                return status == null ? "UNKNOWN" : status;
              });
    } catch (AgentRunException e) {
      if (e.kind() == AgentRunException.Kind.THROTTLED) {
        throttle.throttled(e.retryAfter());
      }
      return Optional.of("UNKNOWN");
    }
  }

  private void failIfTerminal(String status) throws Failed {
    if (status != null && TERMINAL.contains(status.toUpperCase(Locale.ROOT))) {
      throw new Failed(
          "AgentRun sandbox " + sandboxId + " failed to start (status " + status + ")");
    }
  }

  // ---- the run ----

  /** The runner's source and the envelope go in as files: code and arguments stay data. */
  private void writeInputs() throws AgentRunException, RunGuard.StoppedException {
    data.writeFile(
        sandboxId,
        WORK_DIR + "/" + AgentRunCommand.runnerFile(request.language()),
        RunnerProgram.source(request.language()),
        "644",
        abort);
    ExecutionRequest.Envelope envelope = request.newEnvelope();
    nonce = envelope.nonce();
    // The command deletes this file before the runner starts (see AgentRunCommand).
    data.writeFile(
        sandboxId,
        WORK_DIR + "/envelope.json",
        new String(envelope.line(), StandardCharsets.UTF_8),
        "600",
        abort);
  }

  private ExecutionOutcome runCode(Instant[] codeStarted)
      throws AgentRunException, RunGuard.StoppedException, Failed {
    RunnerStreams streams = new RunnerStreams(nonce, request.maxOutputBytes(), request.artifacts());
    int seconds = (int) Math.max(1, Math.min(Integer.MAX_VALUE, request.timeout().toSeconds()));
    codeStarted[0] = clock.instant();
    ScheduledFuture<?> deadline = abort.deadlineAfter(request.timeout(), scheduler);
    AgentRunDataClient.CommandResult result;
    try {
      result =
          data.runCommand(
              sandboxId,
              AgentRunCommand.command(
                  request.language(), request.maxOutputBytes(), request.artifacts()),
              WORK_DIR,
              seconds,
              request.timeout().plus(ANSWER_GRACE),
              AgentRunCommand.maxAnswerBytes(request.maxOutputBytes(), request.artifacts()),
              abort);
    } catch (AgentRunException e) {
      if (e.kind() == AgentRunException.Kind.NOT_FOUND) {
        throw new Failed(
            "AgentRun sandbox "
                + sandboxId
                + " vanished during the execution ("
                + e.getMessage()
                + ")");
      }
      if (gatewayTimeout(e)) {
        abort.check(); // our own deadline passed at the same moment: the same outcome, told our way
        return ExecutionOutcome.failure(
            Termination.TIMED_OUT,
            sandboxId,
            codeStarted[0],
            clock.instant(),
            "AgentRun's gateway ended the command at its 30-second limit (" + e.getMessage() + ")");
      }
      throw e;
    } finally {
      deadline.cancel(false);
    }
    abort.check(); // the deadline may have passed just as the answer came
    Instant finished = clock.instant();
    String status = result.status() == null ? "" : result.status().toLowerCase(Locale.ROOT);
    if (status.contains("timeout") || status.contains("timed")) {
      return ExecutionOutcome.failure(
          Termination.TIMED_OUT,
          sandboxId,
          codeStarted[0],
          finished,
          "AgentRun stopped the command at its time limit");
    }
    AgentRunOutput.Parsed parsed;
    try {
      parsed = AgentRunOutput.parse(result.stdout(), result.stderr(), streams);
    } finally {
      streams.finish();
    }
    if (parsed.exitCode() == null || parsed.problem() != null) {
      String shell =
          parsed.shellErrors().isEmpty()
              ? ""
              : "; the sandbox's shell said: " + String.join(" / ", parsed.shellErrors());
      if (result.exitCode() != null && result.exitCode() == AgentRunCommand.SETUP_FAILED) {
        throw new Failed(
            "The AgentRun sandbox could not set up the run (exit "
                + AgentRunCommand.SETUP_FAILED
                + shell
                + "); the template must provide sh, base64, awk and mkfifo");
      }
      throw new Failed(
          "AgentRun's answer to the command is incomplete ("
              + parsed.problem()
              + ", command exit code "
              + result.exitCode()
              + shell
              + (result.requestId() == null ? "" : ", request id " + result.requestId())
              + ")");
    }
    return new ExecutionOutcome(
        Termination.EXITED,
        parsed.exitCode(),
        AgentRunOutput.withGap(streams.stdoutCapture(), parsed.stdoutGap()),
        AgentRunOutput.withGap(streams.stderrCapture(), parsed.stderrGap()),
        streams.report(),
        sandboxId,
        codeStarted[0],
        finished,
        null);
  }

  /**
   * The gateway's answer when a synchronous command passes 30 s: HTTP 504, or a 5xx whose text says
   * timeout (how RAGFlow's provider recognises it).
   */
  static boolean gatewayTimeout(AgentRunException e) {
    if (e.kind() != AgentRunException.Kind.SERVER) {
      return false;
    }
    String text = e.serviceMessageLower();
    return e.status() == 504 || text.contains("timeout") || text.contains("timed out");
  }
}
