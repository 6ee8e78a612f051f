package dev.sandboxes.operator.backend.docker;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.async.ResultCallback;
import com.github.dockerjava.api.command.InspectContainerResponse;
import com.github.dockerjava.api.command.InspectExecResponse;
import com.github.dockerjava.api.exception.NotFoundException;
import com.github.dockerjava.api.model.Frame;
import dev.sandboxes.operator.backend.RunControl;
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
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * One execution in one container: exec the runner with the envelope on stdin, stream stdout and
 * stderr into capped sinks as frames arrive, enforce the deadline by destroying the container, and
 * classify how it ended.
 */
final class DockerExecution {

  /** How an exec ended from the operator's side. */
  private enum Stop {
    NONE,
    DEADLINE,
    CANCELLED
  }

  /** How long a sandbox that may be dying gets to show it; see {@link #settledState}. */
  private static final Duration SETTLE_WAIT = Duration.ofMillis(1500);

  private final DockerClient client;
  private final ScheduledExecutorService scheduler;
  private final Clock clock;
  private final DockerSettings settings;

  DockerExecution(DockerClient client, ScheduledExecutorService scheduler, Clock clock, DockerSettings settings) {
    this.client = client;
    this.scheduler = scheduler;
    this.clock = clock;
    this.settings = settings;
  }

  /**
   * Runs the request in the container. The caller destroys the container afterwards.
   *
   * @param destroy kills and removes the container (deadline and cancellation use it)
   */
  ExecutionOutcome run(String containerId, ExecutionRequest request, RunControl control, Consumer<String> destroy) {
    ExecutionRequest.Envelope envelope = request.newEnvelope();
    RunnerStreams streams = new RunnerStreams(envelope.nonce(), request.maxOutputBytes());
    AtomicReference<Stop> stop = new AtomicReference<>(Stop.NONE);
    Instant started = clock.instant();
    ScheduledFuture<?> deadline =
        scheduler.schedule(
            () -> {
              if (stop.compareAndSet(Stop.NONE, Stop.DEADLINE)) {
                destroy.accept(containerId);
              }
            },
            request.timeout().toMillis(),
            TimeUnit.MILLISECONDS);
    control.onCancel(() -> {
      if (stop.compareAndSet(Stop.NONE, Stop.CANCELLED)) {
        destroy.accept(containerId);
      }
    });
    String execId = null;
    Throwable streamError = null;
    try {
      execId =
          client
              .execCreateCmd(containerId)
              .withAttachStdin(true)
              .withAttachStdout(true)
              .withAttachStderr(true)
              .withCmd(RunnerProgram.command(request.language()).toArray(String[]::new))
              .exec()
              .getId();
      FrameSink sink = new FrameSink(streams);
      client
          .execStartCmd(execId)
          .withDetach(false)
          .withTty(false)
          .withStdIn(new ByteArrayInputStream(envelope.line()))
          .exec(sink);
      // The deadline destroys the container, which ends the stream; the extra minute only guards
      // against an engine that never closes it.
      if (!sink.awaitCompletion(request.timeout().toMillis() + 60_000, TimeUnit.MILLISECONDS)) {
        stop.compareAndSet(Stop.NONE, Stop.DEADLINE);
        destroy.accept(containerId);
      }
      streamError = sink.error;
    } catch (RuntimeException e) {
      streamError = e;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      streamError = e;
    } finally {
      deadline.cancel(false);
      streams.finish();
    }
    Instant finished = clock.instant();

    if (stop.get() == Stop.DEADLINE) {
      return outcome(Termination.TIMED_OUT, null, streams, containerId, started, finished, null);
    }
    if (stop.get() == Stop.CANCELLED) {
      return outcome(Termination.CANCELLED, null, streams, containerId, started, finished, control.cancelReason());
    }
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
    ContainerState state = settledState(containerId, exitCode, streams.report().finished());
    if (!state.running()) {
      // The whole sandbox stopped under the code. gVisor does this at its limits (docs/container-engine.md):
      // the container exits 137 at the memory limit and 2 when the process limit is hit. Podman
      // never sets OOMKilled, so the exit code is the evidence.
      Long containerExit = state.exitCode();
      if (state.oomKilled() || (containerExit != null && containerExit == 137)) {
        return outcome(Termination.OUT_OF_MEMORY, null, streams, containerId, started, finished,
            "The sandbox was stopped at its memory limit of " + settings.memoryText());
      }
      if (containerExit != null && containerExit == 2) {
        return outcome(Termination.SANDBOX_FAILED, null, streams, containerId, started, finished,
            "The sandbox was stopped at its process limit of " + settings.pidsLimit()
                + " (gVisor counts its own threads); the code started too many processes or threads");
      }
      return outcome(Termination.SANDBOX_FAILED, null, streams, containerId, started, finished,
          "The sandbox container stopped during the execution (container exit code " + containerExit + ")");
    }
    if (exitCode == null) {
      String why = streamError == null ? "no exit code was reported" : streamError.getMessage();
      return outcome(Termination.SANDBOX_FAILED, null, streams, containerId, started, finished,
          "The exec stream to the sandbox broke: " + why);
    }
    String detail = null;
    if (exitCode == 137 && !streams.report().finished()) {
      // SIGKILL. The memory limit sends it, but so can the code itself: only the memory cgroup's
      // own OOM-kill count says which (the engine's OOMKilled flag covers PID 1 only).
      MemoryCgroup.Evidence evidence = MemoryCgroup.read(client, containerId);
      if (evidence.oomKills() > 0) {
        return outcome(Termination.OUT_OF_MEMORY, null, streams, containerId, started, finished,
            "The kernel's OOM killer stopped the program at the sandbox's memory limit of " + settings.memoryText()
                + " (the memory cgroup counted " + evidence.oomKills() + " OOM kill" + (evidence.oomKills() == 1 ? "" : "s")
                + ")");
      }
      detail = evidence.readable()
          ? "The sandbox's memory cgroup recorded no OOM kill, so it was not the memory limit"
          : "The sandbox's memory cgroup could not be read (" + evidence.problem() + "), so nothing shows that the memory"
              + " limit sent it";
    }
    return outcome(Termination.EXITED, exitCode.intValue(), streams, containerId, started, finished, detail);
  }

  private ExecutionOutcome outcome(
      Termination termination, Number exitCode, RunnerStreams streams, String containerId,
      Instant started, Instant finished, String detail) {
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
   * The container's state once it has settled. When gVisor stops a sandbox at a limit, the exec
   * can report its failure (a non-zero code, runsc's own error on stderr) a moment before the
   * engine sees the container stop; without a report from the runner that is the likely story, so
   * the state is polled briefly before the run is blamed on the code.
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
      InspectContainerResponse.ContainerState state = client.inspectContainerCmd(containerId).exec().getState();
      return new ContainerState(
          Boolean.TRUE.equals(state.getRunning()), Boolean.TRUE.equals(state.getOOMKilled()), state.getExitCodeLong());
    } catch (RuntimeException e) {
      if (DockerSandboxBackend.isNoSuchContainer(e)) {
        return new ContainerState(false, false, null);
      }
      throw e;
    }
  }

  /** Routes frames into the runner streams as they arrive; nothing is buffered beyond the caps. */
  private static final class FrameSink extends ResultCallback.Adapter<Frame> {
    private final RunnerStreams streams;
    private volatile Throwable error;

    FrameSink(RunnerStreams streams) {
      this.streams = streams;
    }

    @Override
    public void onNext(Frame frame) {
      byte[] payload = frame.getPayload();
      if (payload == null || payload.length == 0) {
        return;
      }
      try {
        switch (frame.getStreamType()) {
          case STDOUT, RAW -> streams.stdout().write(payload, 0, payload.length);
          case STDERR -> streams.stderr().write(payload, 0, payload.length);
          default -> { }
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    @Override
    public void onError(Throwable throwable) {
      this.error = throwable;
      super.onError(throwable);
    }
  }
}
