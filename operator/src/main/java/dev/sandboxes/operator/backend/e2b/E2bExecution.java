package dev.sandboxes.operator.backend.e2b;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sandboxes.operator.backend.RunControl;
import dev.sandboxes.operator.backend.RunGuard;
import dev.sandboxes.operator.execution.ExecutionOutcome;
import dev.sandboxes.operator.execution.ExecutionRequest;
import dev.sandboxes.operator.execution.Termination;
import dev.sandboxes.operator.runner.RunnerProgram;
import dev.sandboxes.operator.runner.RunnerStreams;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.function.Function;

/**
 * One execution on an E2B-protocol service: create a sandbox (waiting while the service refuses for
 * quota), record its id, start the runner through envd with the envelope on stdin, stream stdout
 * and stderr into the capped sinks, classify how the stream ended. The caller's sandbox is killed
 * on every path. The run's {@link RunGuard} lets the deadline and cancellation abort whatever call
 * it is blocked in and close the event stream.
 */
final class E2bExecution {

  /** Grace envd's own deadline (Connect-Timeout-Ms) gets over ours: it is the backstop. */
  static final Duration SERVER_DEADLINE_GRACE = Duration.ofSeconds(2);

  private static final ObjectMapper JSON = new ObjectMapper();

  /** What the event stream said before it ended. */
  private static final class StreamResult {
    String interpreter;
    JsonNode end;
    JsonNode trailerError;
    E2bServiceException startError;
    E2bServiceException inputError;
    IOException streamError;
    boolean started;
  }

  private volatile boolean runnerStarted;
  private final E2bApi api;
  private final Function<E2bApi.CreatedSandbox, EnvdClient> envdFor;
  private final CreationGate gate;
  private final ScheduledExecutorService scheduler;
  private final Clock clock;
  private final E2bTimings timings;
  private final String template;
  private final Map<String, String> metadata;

  /**
   * Stopped by the deadline or a cancellation: aborts the call in flight and closes the event
   * stream.
   */
  private final RunGuard guard = new RunGuard();

  private volatile InputStream stream;

  /**
   * A creation call ended without an answer: the sandbox may exist without the operator knowing its
   * id.
   */
  private volatile boolean creationUncertain;

  private volatile E2bApi.CreatedSandbox created;

  E2bExecution(
      E2bApi api,
      Function<E2bApi.CreatedSandbox, EnvdClient> envdFor,
      CreationGate gate,
      ScheduledExecutorService scheduler,
      Clock clock,
      E2bTimings timings,
      String template,
      Map<String, String> metadata) {
    this.api = api;
    this.envdFor = envdFor;
    this.gate = gate;
    this.scheduler = scheduler;
    this.clock = clock;
    this.timings = timings;
    this.template = template;
    this.metadata = metadata;
    guard.onStop(() -> closeQuietly(stream));
  }

  /** Whether envd started the runner in the sandbox: the sandbox is up and answering. */
  boolean runnerStarted() {
    return runnerStarted;
  }

  /** The sandbox this run created, once it exists, or null. */
  E2bApi.CreatedSandbox sandbox() {
    return created;
  }

  /** Whether a sandbox may exist that this run cannot name (the caller sweeps by metadata). */
  boolean creationUncertain() {
    return creationUncertain && created == null;
  }

  /**
   * Runs the request. The caller kills {@link #sandbox()} afterwards, whatever happened.
   *
   * @param holder the lease, which the creation gate knows as a probe or not
   */
  ExecutionOutcome run(Object holder, ExecutionRequest request, RunControl control) {
    control.onCancel(() -> guard.stop(RunGuard.Stop.CANCELLED));
    Instant begun = clock.instant();
    E2bApi.CreatedSandbox sandbox;
    try {
      sandbox = create(holder, request);
      created = sandbox;
    } catch (Failure failure) {
      return failure.outcome(null, begun, clock.instant());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return ExecutionOutcome.failure(
          Termination.SANDBOX_FAILED,
          null,
          begun,
          clock.instant(),
          "The operator was interrupted while it created the sandbox");
    }
    if (sandbox == null) {
      return stoppedBeforeCode(null, begun);
    }
    try {
      control.sandboxAssigned(sandbox.sandboxId());
    } catch (RuntimeException e) {
      if (guard.stopped()) {
        return stoppedBeforeCode(sandbox.sandboxId(), begun);
      }
      return ExecutionOutcome.failure(
          Termination.SANDBOX_FAILED,
          sandbox.sandboxId(),
          begun,
          clock.instant(),
          "The sandbox id could not be recorded in the CodeExecution status, so the code was not sent ("
              + E2bApi.rootMessage(e)
              + ")");
    }
    if (guard.stopped()) {
      return stoppedBeforeCode(sandbox.sandboxId(), begun);
    }
    return stream(sandbox, request);
  }

  // ---- creation ----

  /** A run that ended before code was sent. */
  private static final class Failure extends Exception {
    private final String detail;

    Failure(String detail) {
      super(detail, null, false, false);
      this.detail = detail;
    }

    ExecutionOutcome outcome(String sandboxId, Instant started, Instant finished) {
      return ExecutionOutcome.failure(
          Termination.SANDBOX_FAILED, sandboxId, started, finished, detail);
    }
  }

  /** The created sandbox, or null when the run was stopped first. */
  private E2bApi.CreatedSandbox create(Object holder, ExecutionRequest request)
      throws Failure, InterruptedException {
    long ttlSeconds = request.timeout().plus(timings.sandboxTimeoutMargin()).toSeconds();
    Instant giveUp = clock.instant().plus(timings.maxQuotaWait());
    E2bServiceException lastRefusal = null;
    while (true) {
      if (guard.stopped()) {
        return null;
      }
      Duration wait = gate.remainingBackoff();
      if (!wait.isZero()) {
        if (clock.instant().plus(wait).isAfter(giveUp) && lastRefusal != null) {
          throw new Failure(
              "The E2B service kept refusing new sandboxes for "
                  + timings.maxQuotaWait().toMinutes()
                  + " minutes ("
                  + lastRefusal.describe()
                  + "); set spec.limits.maxConcurrentExecutions to the"
                  + " concurrency your plan allows");
        }
        if (guard.awaitStop(wait)) {
          return null;
        }
        continue;
      }
      try {
        E2bApi.CreatedSandbox created = api.create(template, ttlSeconds, metadata, guard);
        gate.created();
        return created;
      } catch (E2bServiceException e) {
        if (e.status() == 0) {
          creationUncertain = true; // the request may have reached the service
        }
        if (guard.stopped()) {
          return null;
        }
        if (e.isQuota()) {
          lastRefusal = e;
          gate.refused(holder, e.retryAfter());
          if (!clock.instant().isBefore(giveUp)) {
            throw new Failure(
                "The E2B service kept refusing new sandboxes for "
                    + timings.maxQuotaWait().toMinutes()
                    + " minutes ("
                    + e.describe()
                    + "); set spec.limits.maxConcurrentExecutions to the concurrency your plan allows");
          }
          continue;
        }
        if (e.status() == 401 || e.status() == 403) {
          gate.credentialsRejected();
          throw new Failure(
              "The E2B API at "
                  + api.apiUrl()
                  + " rejected the API key when creating a sandbox ("
                  + e.describe()
                  + "); fix the key in the provider's Secret");
        }
        if (e.status() == 0) {
          throw new Failure(
              "The E2B API at "
                  + api.apiUrl()
                  + " did not answer the sandbox creation: "
                  + e.describe());
        }
        throw new Failure(
            "The E2B service could not create a sandbox from template "
                + template
                + " ("
                + e.describe()
                + ")"
                + creationHint(e));
      }
    }
  }

  /**
   * What to do about a refused creation the service explains (E2B-INFRA handlers/sandbox_create.go,
   * timeout_helper.go).
   */
  private static String creationHint(E2bServiceException e) {
    String message = e.getMessage();
    if (message.contains("secured access")) {
      // Never retried without secure: the access token is what keeps code in the sandbox from
      // driving envd (reading the runner's stream, starting processes as another user).
      return "; its envd is too old for secure sandboxes (0.2.0 or newer needed), which the operator always asks"
          + " for: rebuild the template with a current E2B CLI";
    }
    if (message.contains("Timeout cannot be greater than")) {
      return "; the sandbox lives timeoutSeconds + 30 s, longer than your plan allows: lower timeoutSeconds or"
          + " spec.limits.maxTimeoutSeconds";
    }
    return "";
  }

  private ExecutionOutcome stoppedBeforeCode(String id, Instant begun) {
    if (guard.state() == RunGuard.Stop.DEADLINE) {
      return ExecutionOutcome.failure(Termination.TIMED_OUT, id, begun, clock.instant(), null);
    }
    return ExecutionOutcome.failure(
        Termination.CANCELLED,
        id,
        begun,
        clock.instant(),
        "The CodeExecution was deleted before its code was sent; the sandbox was killed");
  }

  // ---- the run ----

  private ExecutionOutcome stream(E2bApi.CreatedSandbox sandbox, ExecutionRequest request) {
    if (!EnvdVersion.atLeast(sandbox.envdVersion(), EnvdVersion.COMMANDS_STDIN)) {
      return ExecutionOutcome.failure(
          Termination.SANDBOX_FAILED,
          sandbox.sandboxId(),
          clock.instant(),
          clock.instant(),
          "Template "
              + template
              + " has envd "
              + sandbox.envdVersion()
              + ", older than "
              + EnvdVersion.COMMANDS_STDIN
              + ", which the runner's stdin needs; rebuild the template with a current E2B CLI");
    }
    ExecutionRequest.Envelope envelope = request.newEnvelope();
    RunnerStreams streams =
        new RunnerStreams(envelope.nonce(), request.maxOutputBytes(), request.artifacts());
    EnvdClient envd = envdFor.apply(sandbox);
    StreamResult result = new StreamResult();
    result.interpreter = RunnerProgram.command(request.language()).get(0);
    Instant started = clock.instant();
    ScheduledFuture<?> deadline = guard.deadlineAfter(request.timeout(), scheduler);
    try {
      InputStream in =
          envd.start(
              RunnerProgram.command(request.language()),
              request.timeout().plus(SERVER_DEADLINE_GRACE),
              guard);
      stream = in;
      if (guard.stopped()) {
        closeQuietly(in);
      }
      read(in, envd, envelope, streams, result);
    } catch (E2bServiceException e) {
      result.startError = e;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      result.streamError = new IOException("interrupted");
    } finally {
      deadline.cancel(false);
      closeQuietly(stream);
      streams.finish();
    }
    Instant finished = clock.instant();
    Classified classified = classify(sandbox, result, streams);
    return new ExecutionOutcome(
        classified.termination(),
        classified.exitCode(),
        streams.stdoutCapture(),
        streams.stderrCapture(),
        streams.report(),
        sandbox.sandboxId(),
        started,
        finished,
        classified.detail());
  }

  /** Consumes events until the end event, the end-of-stream message, or the stream breaks. */
  private void read(
      InputStream in,
      EnvdClient envd,
      ExecutionRequest.Envelope envelope,
      RunnerStreams streams,
      StreamResult result)
      throws InterruptedException {
    try {
      while (true) {
        ConnectFrames.Frame frame = ConnectFrames.read(in);
        if (frame == null) {
          return;
        }
        JsonNode message = JSON.readTree(frame.message());
        if (frame.endOfStream()) {
          JsonNode error = message == null ? null : message.get("error");
          result.trailerError = error == null || error.isNull() ? null : error;
          return;
        }
        JsonNode event = message == null ? null : message.get("event");
        if (event == null) {
          continue;
        }
        if (event.has("start")) {
          result.started = true;
          runnerStarted = true;
          long pid = event.get("start").path("pid").asLong();
          try {
            envd.sendStdin(pid, envelope.line(), guard);
          } catch (E2bServiceException e) {
            // The process may have ended at once (envd's shell found no interpreter): its end
            // event, still to come on the stream, says why better than the refused input.
            result.inputError = e;
          }
        } else if (event.has("data")) {
          JsonNode data = event.get("data");
          write(data.get("stdout"), streams.stdout());
          write(data.get("stderr"), streams.stderr());
        } else if (event.has("end")) {
          // Everything the process wrote came before its end event; the end-of-stream message adds
          // nothing the outcome needs, so do not wait for it.
          result.end = event.get("end");
          return;
        }
        // keepalive: nothing to do
      }
    } catch (IOException e) {
      result.streamError = e;
    }
  }

  private static void write(JsonNode base64, OutputStream sink) throws IOException {
    if (base64 == null || base64.isNull()) {
      return;
    }
    byte[] bytes;
    String text = base64.asText();
    try {
      bytes = Base64.getDecoder().decode(text);
    } catch (IllegalArgumentException notStandard) {
      try {
        bytes = Base64.getUrlDecoder().decode(text); // proto3 JSON parsers accept both alphabets
      } catch (IllegalArgumentException e) {
        throw new ConnectFrames.ProtocolException("a data event holds invalid base64");
      }
    }
    sink.write(bytes, 0, bytes.length);
  }

  private record Classified(Termination termination, Integer exitCode, String detail) {}

  /** How the run ended; the operator's own stops first, then what envd said, then how it broke. */
  private Classified classify(
      E2bApi.CreatedSandbox sandbox, StreamResult result, RunnerStreams streams) {
    RunGuard.Stop stopped = guard.state();
    if (stopped == RunGuard.Stop.CANCELLED) {
      return new Classified(
          Termination.CANCELLED,
          null,
          "The CodeExecution was deleted while it ran; the sandbox was killed");
    }
    if (result.end != null) {
      Classified ended = fromEndEvent(result.end);
      if (interpreterMissing(ended, streams, result.interpreter)) {
        return failed(
            "The sandbox has no "
                + result.interpreter
                + " on envd's PATH (exit 127: "
                + api.redact(streams.stderrCapture().text().strip())
                + "); fix template "
                + template
                + " or name another in spec.runtimes[].template or spec.e2b.template");
      }
      return ended;
    }
    if (stopped == RunGuard.Stop.DEADLINE) {
      return new Classified(Termination.TIMED_OUT, null, null);
    }
    if (result.trailerError != null) {
      String code = result.trailerError.path("code").asText("unknown");
      String message = result.trailerError.path("message").asText("");
      if ("deadline_exceeded".equals(code)) {
        return new Classified(Termination.TIMED_OUT, null, null);
      }
      String what = code + (message.isBlank() ? "" : ": " + api.redact(message));
      if ("unavailable".equals(code)) {
        return failed(
            "The sandbox became unavailable during the execution (envd: "
                + what
                + "); it may have reached its timeout or been killed");
      }
      if (!result.started) {
        String hint =
            message.contains("not found")
                ? "; the template needs " + result.interpreter + " on its PATH"
                : "";
        return failed("envd could not start the runner (" + what + ")" + hint);
      }
      return failed("envd ended the process stream with an error (" + what + ")");
    }
    if (result.inputError != null) {
      if (result.inputError.status() == 502 || vanished(sandbox)) {
        return failed("The sandbox is gone (" + result.inputError.describe() + ")");
      }
      return failed(
          "The execution could not be handed to the runner's stdin ("
              + result.inputError.describe()
              + ")");
    }
    if (result.startError != null) {
      E2bServiceException e = result.startError;
      if (e.status() == 502 && e.getMessage().contains("port is not open")) {
        // The service's proxy reached the sandbox, but nothing listens on envd's port.
        return failed(
            "envd in the sandbox does not answer ("
                + e.describe()
                + "); the code did not run. Check that"
                + " template "
                + template
                + " starts envd (rebuild it with a current E2B CLI)");
      }
      if (e.status() == 502 || e.status() == 404 && vanished(sandbox)) {
        return failed("The sandbox is gone (" + e.describe() + ")");
      }
      if (e.status() == 401 && e.getMessage().contains("invalid username")) {
        return failed(
            "envd in the sandbox has no such OS user ("
                + e.describe()
                + "); set spec.e2b.user to a user of"
                + " template "
                + template
                + ", or leave it unset to use the template's default user");
      }
      if (e.status() == 401) {
        return failed("envd in the sandbox rejected the access token (" + e.describe() + ")");
      }
      return failed("envd did not start the runner (" + e.describe() + ")");
    }
    if (vanished(sandbox)) {
      return failed(
          "The sandbox disappeared during the execution: the E2B service no longer knows sandbox "
              + sandbox.sandboxId());
    }
    String why =
        result.streamError == null
            ? "it ended before the process did"
            : "it broke: " + api.redact(E2bApi.rootMessage(result.streamError));
    return failed("The process event stream from envd ended without an end event (" + why + ")");
  }

  /**
   * Exit 127 before the runner wrote a byte, with the shell's "python3: not found" (dash, busybox)
   * or "…: No such file or directory" on stderr: envd's /bin/sh wrapper could not exec the
   * interpreter. Code that exits 127 itself keeps its outcome.
   */
  private static boolean interpreterMissing(
      Classified ended, RunnerStreams streams, String interpreter) {
    if (ended.termination() != Termination.EXITED
        || ended.exitCode() == null
        || ended.exitCode() != 127) {
      return false;
    }
    String stderr = streams.stderrCapture().text();
    return streams.stdoutCapture().totalBytes() == 0
        && streams.report().status() == null
        && (stderr.contains(interpreter + ": not found")
            || stderr.contains(interpreter + ": No such file"));
  }

  private boolean vanished(E2bApi.CreatedSandbox sandbox) {
    try {
      Optional<Boolean> exists = api.exists(sandbox.sandboxId());
      return exists.isPresent() && !exists.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private static Classified failed(String detail) {
    return new Classified(Termination.SANDBOX_FAILED, null, detail);
  }

  /**
   * The end event. proto3 JSON leaves out zero values: no exitCode means 0, no exited means false
   * (killed by a signal; Go then reports exit code -1 and a status such as "signal: killed").
   */
  private static Classified fromEndEvent(JsonNode end) {
    boolean exited = end.path("exited").asBoolean(false);
    int exitCode = end.path("exitCode").asInt(0);
    String status = end.path("status").asText("");
    if (exited) {
      return new Classified(Termination.EXITED, exitCode, null);
    }
    Integer signal = ProcessSignals.number(status);
    if (signal != null) {
      String detail =
          signal == 9
              ? "The program was killed with SIGKILL ("
                  + status
                  + "), which in an E2B sandbox usually means it ran out of"
                  + " memory"
              : "The program was killed by a signal (" + status + ")";
      return new Classified(Termination.EXITED, 128 + signal, detail);
    }
    String error = end.path("error").asText("");
    return failed(
        "The process ended without an exit code (envd status \""
            + status
            + "\""
            + (error.isBlank() ? "" : ", error " + error)
            + ")");
  }

  // ---- stopping ----

  private static void closeQuietly(InputStream in) {
    if (in == null) {
      return;
    }
    try {
      in.close();
    } catch (IOException ignored) {
      // the stream is being abandoned
    }
  }
}
