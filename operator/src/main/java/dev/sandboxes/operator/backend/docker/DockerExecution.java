package dev.sandboxes.operator.backend.docker;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.async.ResultCallback;
import com.github.dockerjava.api.command.InspectContainerResponse;
import com.github.dockerjava.api.command.InspectExecResponse;
import com.github.dockerjava.api.model.Frame;
import dev.sandboxes.operator.backend.ExecutionThreads;
import dev.sandboxes.operator.backend.OomEvidence;
import dev.sandboxes.operator.backend.RunControl;
import dev.sandboxes.operator.backend.RunGuard;
import dev.sandboxes.operator.execution.ExecutionOutcome;
import dev.sandboxes.operator.execution.ExecutionRequest;
import dev.sandboxes.operator.execution.Termination;
import dev.sandboxes.operator.runner.RunnerProgram;
import dev.sandboxes.operator.runner.RunnerStreams;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * One execution in one container: exec the runner with the envelope on stdin, stream stdout and
 * stderr into capped sinks as frames arrive, enforce the deadline by destroying the container, and
 * classify how it ended.
 *
 * <p>The engine calls run on {@link ExecutionThreads#engineCalls()}, and the calling thread waits
 * for whichever comes first: the run's own end or the operator's stop (deadline, cancellation). The
 * stop decides the outcome at once, whatever call is still in flight: a slow engine (a loaded
 * machine, a removal that takes seconds) delays the container's destruction, never the verdict.
 */
final class DockerExecution {

  /** How long a sandbox that may be dying gets to show it; see {@link #settledState}. */
  private static final Duration SETTLE_WAIT = Duration.ofMillis(1500);

  /** Beyond the deadline, how long a run may wait for an engine that never answers. */
  private static final Duration ENGINE_GRACE = Duration.ofSeconds(60);

  private final DockerClient client;
  private final Clock clock;
  private final DockerSettings settings;

  DockerExecution(DockerClient client, Clock clock, DockerSettings settings) {
    this.client = client;
    this.clock = clock;
    this.settings = settings;
  }

  /**
   * Runs the request in the container. The caller destroys the container afterwards.
   *
   * @param destroyLater starts destroying the container without waiting for it (deadline and
   *     cancellation use it)
   */
  ExecutionOutcome run(
      String containerId,
      ExecutionRequest request,
      RunControl control,
      Consumer<String> destroyLater) {
    return run(containerId, request, control, destroyLater, null);
  }

  /**
   * Runs the request through the container's pre-started runner when it is still waiting (the
   * envelope is then the only thing sent), else through a fresh exec. Never both: the fresh exec is
   * used only when the waiting runner's stream had already ended, before any byte was sent.
   *
   * @param warm the container's pre-started runner, taken for this execution, or null
   */
  ExecutionOutcome run(
      String containerId,
      ExecutionRequest request,
      RunControl control,
      Consumer<String> destroyLater,
      WarmExec warm) {
    ExecutionRequest.Envelope envelope = request.newEnvelope();
    RunnerStreams streams =
        new RunnerStreams(envelope.nonce(), request.maxOutputBytes(), request.artifacts());
    FrameSink sink = new FrameSink(streams);
    RunGuard guard = new RunGuard();
    Instant started = clock.instant();
    ScheduledFuture<?> deadline =
        ExecutionThreads.atDeadline(
            request.timeout(),
            () -> {
              if (guard.stop(RunGuard.Stop.DEADLINE)) {
                destroyLater.accept(containerId);
              }
            });
    control.onCancel(
        () -> {
          if (guard.stop(RunGuard.Stop.CANCELLED)) {
            destroyLater.accept(containerId);
          }
        });
    CompletableFuture<ExecutionOutcome> ended;
    try {
      ended =
          CompletableFuture.supplyAsync(
              () -> exec(containerId, request, envelope, streams, sink, guard, started, warm),
              ExecutionThreads.engineCalls());
    } catch (RuntimeException e) {
      deadline.cancel(false);
      throw e;
    }
    try {
      CompletableFuture.anyOf(ended, guard.signal())
          .get(request.timeout().plus(ENGINE_GRACE).toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      // The deadline passed long ago and yet neither the engine nor the deadline ended the run.
      if (guard.stop(RunGuard.Stop.DEADLINE)) {
        destroyLater.accept(containerId);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      if (guard.stop(RunGuard.Stop.CANCELLED)) {
        destroyLater.accept(containerId);
      }
    } catch (ExecutionException e) {
      // exec() reports engine failures as outcomes; anything else is the backend's to report
      throw e.getCause() instanceof RuntimeException r
          ? r
          : new IllegalStateException(e.getCause());
    } finally {
      deadline.cancel(false);
    }
    RunGuard.Stop how = guard.state();
    if (how == RunGuard.Stop.ENDED) {
      return classified(ended, streams, containerId, started);
    }
    // Stopped by the operator: the verdict is now, with the output received up to now. Frames
    // still in flight are dropped, and the engine calls still running are abandoned.
    sink.shut();
    streams.finish();
    Instant finished = clock.instant();
    if (how == RunGuard.Stop.DEADLINE) {
      return outcome(Termination.TIMED_OUT, null, streams, containerId, started, finished, null);
    }
    return outcome(
        Termination.CANCELLED,
        null,
        streams,
        containerId,
        started,
        finished,
        control.cancelReason());
  }

  /**
   * The outcome exec() is working out now that the stream ended, unless the engine stops answering.
   */
  private ExecutionOutcome classified(
      CompletableFuture<ExecutionOutcome> ended,
      RunnerStreams streams,
      String containerId,
      Instant started) {
    try {
      return ended.get(ENGINE_GRACE.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      return outcome(
          Termination.SANDBOX_FAILED,
          null,
          streams,
          containerId,
          started,
          clock.instant(),
          "The Docker engine stopped answering after the execution's output ended");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return outcome(
          Termination.SANDBOX_FAILED,
          null,
          streams,
          containerId,
          started,
          clock.instant(),
          "The operator stopped waiting for the Docker engine after the execution's output ended");
    } catch (ExecutionException e) {
      throw e.getCause() instanceof RuntimeException r
          ? r
          : new IllegalStateException(e.getCause());
    }
  }

  /**
   * The engine side of the run, on an engine-call thread: exec, stream until the exec ends, then
   * classify. Returns null when the operator stopped the run first (its verdict stands).
   */
  private ExecutionOutcome exec(
      String containerId,
      ExecutionRequest request,
      ExecutionRequest.Envelope envelope,
      RunnerStreams streams,
      FrameSink sink,
      RunGuard guard,
      Instant started,
      WarmExec warm) {
    String execId = null;
    Throwable streamError = null;
    ResultCallback.Adapter<Frame> stream = sink;
    try {
      if (warm != null && warm.alive()) {
        execId = warm.execId();
        warm.attach(sink);
        if (guard.stopped()) {
          return null; // stopped before the envelope was sent: the code never ran
        }
        stream = warm;
        warm.send(envelope.line());
        warm.awaitCompletion(
            request.timeout().plus(ENGINE_GRACE).toMillis(), TimeUnit.MILLISECONDS);
        streamError = warm.error();
      } else {
        if (warm != null) {
          warm.close(); // its stream ended before use: no byte of this envelope reached it
        }
        execId =
            client
                .execCreateCmd(containerId)
                .withAttachStdin(true)
                .withAttachStdout(true)
                .withAttachStderr(true)
                .withCmd(
                    RunnerProgram.command(request.language(), RunnerProgram.ONCE_MARKER)
                        .toArray(String[]::new))
                .exec()
                .getId();
        if (guard.stopped()) {
          return null; // stopped while the exec was being created: the code never ran
        }
        client
            .execStartCmd(execId)
            .withDetach(false)
            .withTty(false)
            .withStdIn(new ByteArrayInputStream(envelope.line()))
            .exec(sink);
        // The deadline destroys the container, which ends the stream; the extra time only guards
        // against an engine that never closes it.
        sink.awaitCompletion(
            request.timeout().plus(ENGINE_GRACE).toMillis(), TimeUnit.MILLISECONDS);
        streamError = sink.error;
      }
    } catch (RuntimeException e) {
      streamError = e;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      streamError = e;
    }
    if (!guard.end()) {
      closeQuietly(stream);
      return null;
    }
    sink.shut(); // an engine that never closed the stream may still send frames
    streams.finish();
    Instant finished = clock.instant();
    Long exitCode = null;
    if (execId != null) {
      try {
        InspectExecResponse exec = client.inspectExecCmd(execId).exec();
        if (!Boolean.TRUE.equals(exec.isRunning())) {
          exitCode = exec.getExitCodeLong();
        }
      } catch (RuntimeException e) {
        streamError = streamError == null ? e : streamError;
      }
    }
    ContainerState state;
    try {
      state = settledState(containerId, exitCode, streams.report().finished());
    } catch (RuntimeException e) {
      return outcome(
          Termination.SANDBOX_FAILED,
          null,
          streams,
          containerId,
          started,
          finished,
          "The Docker engine failed during the execution: " + DockerSandboxBackend.rootMessage(e));
    }
    OomEvidence memory = new OomEvidence("sandbox", settings.memoryText());
    if (!state.running()) {
      // The whole sandbox stopped under the code. gVisor does this at its limits
      // (docs/container-engine.md):
      // the container exits 137 at the memory limit and 2 when the process limit is hit. Podman
      // never sets OOMKilled, so the exit code is the evidence.
      Long containerExit = state.exitCode();
      if (state.oomKilled()
          || (containerExit != null && containerExit == OomEvidence.SIGKILL_EXIT_CODE)) {
        return outcome(
            Termination.OUT_OF_MEMORY,
            null,
            streams,
            containerId,
            started,
            finished,
            memory.sandboxStopped());
      }
      if (containerExit != null && containerExit == 2) {
        return outcome(
            Termination.SANDBOX_FAILED,
            null,
            streams,
            containerId,
            started,
            finished,
            "The sandbox was stopped at its process limit of "
                + settings.pidsLimit()
                + " (gVisor counts its own threads); the code started too many processes or threads");
      }
      return outcome(
          Termination.SANDBOX_FAILED,
          null,
          streams,
          containerId,
          started,
          finished,
          "The sandbox container stopped during the execution (container exit code "
              + containerExit
              + ")");
    }
    if (exitCode == null) {
      String why = streamError == null ? "no exit code was reported" : streamError.getMessage();
      return outcome(
          Termination.SANDBOX_FAILED,
          null,
          streams,
          containerId,
          started,
          finished,
          "The exec stream to the sandbox broke: " + why);
    }
    String detail = null;
    if (OomEvidence.sigkilledBeforeDone(exitCode, streams.report().finished())) {
      // The engine's OOMKilled flag covers PID 1 only: the memory cgroup's count says whether the
      // limit sent this SIGKILL.
      OomEvidence.Verdict verdict =
          memory.afterSigkill(MemoryCgroup.read(client, containerId, settings.pidsLimit()));
      if (verdict.outOfMemory()) {
        return outcome(
            Termination.OUT_OF_MEMORY,
            null,
            streams,
            containerId,
            started,
            finished,
            verdict.message());
      }
      detail = verdict.message();
    }
    return outcome(
        Termination.EXITED, exitCode.intValue(), streams, containerId, started, finished, detail);
  }

  private static void closeQuietly(ResultCallback.Adapter<Frame> sink) {
    try {
      sink.close();
    } catch (IOException | RuntimeException e) {
      // the stream is being abandoned
    }
  }

  private ExecutionOutcome outcome(
      Termination termination,
      Number exitCode,
      RunnerStreams streams,
      String containerId,
      Instant started,
      Instant finished,
      String detail) {
    return new ExecutionOutcome(
        termination,
        exitCode == null ? null : exitCode.intValue(),
        streams.stdoutCapture(),
        streams.stderrCapture(),
        streams.report(),
        containerId,
        started,
        finished,
        detail);
  }

  private record ContainerState(boolean running, boolean oomKilled, Long exitCode) {}

  /**
   * The container's state once it has settled. When gVisor stops a sandbox at a limit, the exec can
   * report its failure (a non-zero code, runsc's own error on stderr) a moment before the engine
   * sees the container stop; without a report from the runner that is the likely story, so the
   * state is polled briefly before the run is blamed on the code.
   */
  private ContainerState settledState(String containerId, Long exitCode, boolean runnerReported) {
    ContainerState state = containerState(containerId);
    boolean suspicious = !runnerReported && (exitCode == null || exitCode != 0);
    long until = System.nanoTime() + SETTLE_WAIT.toNanos();
    while (suspicious && state.running() && System.nanoTime() < until) {
      try {
        Thread.sleep(100);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
      state = containerState(containerId);
    }
    return state;
  }

  private ContainerState containerState(String containerId) {
    try {
      InspectContainerResponse.ContainerState state =
          client.inspectContainerCmd(containerId).exec().getState();
      return new ContainerState(
          Boolean.TRUE.equals(state.getRunning()),
          Boolean.TRUE.equals(state.getOOMKilled()),
          state.getExitCodeLong());
    } catch (RuntimeException e) {
      if (DockerSandboxBackend.isNoSuchContainer(e)) {
        return new ContainerState(false, false, null);
      }
      throw e;
    }
  }

  /**
   * Routes frames into the runner streams as they arrive; nothing is buffered beyond the caps. Shut
   * when the operator stops the run: frames still in flight must not reach streams that were
   * already read.
   */
  private static final class FrameSink extends ResultCallback.Adapter<Frame> {
    private final RunnerStreams streams;
    private volatile Throwable error;
    private boolean shut;

    FrameSink(RunnerStreams streams) {
      this.streams = streams;
    }

    @Override
    public synchronized void onNext(Frame frame) {
      byte[] payload = frame.getPayload();
      if (shut || payload == null || payload.length == 0) {
        return;
      }
      try {
        switch (frame.getStreamType()) {
          case STDOUT, RAW -> streams.stdout().write(payload, 0, payload.length);
          case STDERR -> streams.stderr().write(payload, 0, payload.length);
          default -> {}
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    /** Drops every frame from now on. */
    synchronized void shut() {
      shut = true;
    }

    @Override
    public void onError(Throwable throwable) {
      this.error = throwable;
      super.onError(throwable);
    }
  }
}
