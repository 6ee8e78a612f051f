package dev.sandboxes.operator.backend.selfmanaged;

import dev.sandboxes.operator.backend.ExecutionThreads;
import dev.sandboxes.operator.backend.OomEvidence;
import dev.sandboxes.operator.backend.RunControl;
import dev.sandboxes.operator.backend.RunGuard;
import dev.sandboxes.operator.execution.ExecutionOutcome;
import dev.sandboxes.operator.execution.ExecutionRequest;
import dev.sandboxes.operator.execution.Termination;
import dev.sandboxes.operator.runner.RunnerProgram;
import dev.sandboxes.operator.runner.RunnerReport;
import dev.sandboxes.operator.runner.RunnerStreams;
import io.fabric8.kubernetes.api.model.ContainerStateTerminated;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * One execution in one claimed pod: exec the runner with the envelope on stdin, stream its output
 * into capped sinks, delete the pod at the deadline or on cancellation, and tell from the pod's
 * status what ended a run that did not end by itself.
 */
final class PodExecution {

  /** How long a pod that may be dying gets to show it in its status. */
  private static final Duration SETTLE_WAIT = Duration.ofSeconds(2);

  /**
   * The same when the run ended the way a dead sandbox ends it: killed (137), or an exec that lost
   * its sandbox (gVisor's runsc exec reports 128 when the sandbox dies of its memory limit, and the
   * kubelet reports OOMKilled only a few seconds later: its relist runs every second, but a loaded
   * node was measured taking more than 15 s). The wait ends as soon as the pod shows how it ended;
   * only a run that ended this way while its pod lives on waits it out.
   */
  static final Duration SANDBOX_DEATH_SETTLE_WAIT = Duration.ofSeconds(45);

  /**
   * After the runner's done record, how long its exit status may take. The runner exits right after
   * the record, so the status normally follows within milliseconds; it never comes while a process
   * the code left running still holds the exec's stdout (the container runtime sends the status
   * only once every holder of the output has let go). Then the record decides, and the pod is
   * deleted with everything still running in it.
   */
  static final Duration EXIT_STATUS_GRACE = Duration.ofSeconds(2);

  /** Beyond the deadline, how long an exec whose pod was deleted may take to end. */
  private static final Duration STREAM_GRACE = Duration.ofSeconds(30);

  private final KubernetesClient client;
  private final PodExec exec;
  private final String namespace;
  private final SelfManagedSettings settings;
  private final Clock clock;
  private final boolean limitProcesses;
  private final Duration sandboxDeathSettleWait;

  /**
   * @param limitProcesses run under settings.pidsLimit (see SandboxProcessLimit)
   * @param sandboxDeathSettleWait SANDBOX_DEATH_SETTLE_WAIT, or shorter where no kubelet is slow
   */
  PodExecution(
      KubernetesClient client,
      PodExec exec,
      String namespace,
      SelfManagedSettings settings,
      Clock clock,
      boolean limitProcesses,
      Duration sandboxDeathSettleWait) {
    this.client = client;
    this.exec = exec;
    this.namespace = namespace;
    this.settings = settings;
    this.clock = clock;
    this.limitProcesses = limitProcesses;
    this.sandboxDeathSettleWait = sandboxDeathSettleWait;
  }

  /**
   * Runs the request in the pod. The caller deletes the pod afterwards. The deadline and
   * cancellation decide the outcome at once: opening the exec and deleting the pod happen on other
   * threads, so a slow API server delays the pod's deletion, never the verdict.
   *
   * @param deletePod deletes the pod at once (deadline and cancellation hand it to a teardown
   *     thread)
   */
  ExecutionOutcome run(
      String pod, ExecutionRequest request, RunControl control, Consumer<String> deletePod) {
    return run(pod, request, control, deletePod, null);
  }

  /**
   * Runs the request in the pod, through its pre-started runner when one is waiting: then the
   * envelope is the only thing sent on the hot path. Without one (none was started, or its stream
   * ended before use), a fresh runner is exec'd. Never both: once a byte of the envelope went to a
   * runner, no other runner is started for this execution (the once-only marker would refuse it
   * anyway, see docs/runner-protocol.md).
   *
   * @param warm the pod's waiting runner, taken for this execution, or null
   */
  ExecutionOutcome run(
      String pod,
      ExecutionRequest request,
      RunControl control,
      Consumer<String> deletePod,
      WarmRunners.Warm warm) {
    ExecutionRequest.Envelope envelope = request.newEnvelope();
    RunnerStreams streams =
        new RunnerStreams(envelope.nonce(), request.maxOutputBytes(), request.artifacts());
    GatedSink stdout = new GatedSink(streams.stdout());
    GatedSink stderr = new GatedSink(streams.stderr());
    RunGuard guard = new RunGuard();
    Instant started = clock.instant();
    // Completes EXIT_STATUS_GRACE after the runner's done record, or at the deadline if the record
    // came before it: the code ended in time, only its exit status is late.
    CompletableFuture<Void> reported = new CompletableFuture<>();
    streams
        .doneRecordArrived()
        .thenRun(
            () ->
                CompletableFuture.delayedExecutor(
                        EXIT_STATUS_GRACE.toMillis(), TimeUnit.MILLISECONDS)
                    .execute(() -> reported.complete(null)));
    ScheduledFuture<?> deadline =
        ExecutionThreads.atDeadline(
            request.timeout(),
            () -> {
              if (streams.doneRecordArrived().isDone()) {
                reported.complete(null);
                return;
              }
              if (guard.stop(RunGuard.Stop.DEADLINE)) {
                ExecutionThreads.teardown(() -> deletePod.accept(pod));
              }
            });
    control.onCancel(
        () -> {
          if (guard.stop(RunGuard.Stop.CANCELLED)) {
            ExecutionThreads.teardown(() -> deletePod.accept(pod));
          }
        });
    Integer exitCode = null;
    String broken = null;
    // Opening the exec blocks until the API server upgrades the connection, which a loaded server
    // can delay past the deadline.
    CompletableFuture<PodExec.Running> starting;
    if (warm != null && warm.waiting().alive() && attach(warm, stdout, stderr)) {
      // One websocket frame: the runner already runs, with its interpreter loaded and forked.
      // Still off this thread: a send that blocks must not hold up the deadline's verdict.
      starting =
          CompletableFuture.supplyAsync(
              () -> warm.waiting().send(envelope.line()), ExecutionThreads.engineCalls());
    } else {
      if (warm != null) {
        warm.close(); // its stream ended: no byte of this envelope reached it
      }
      List<String> command =
          runnerCommand(request.language(), limitProcesses, settings.pidsLimit());
      starting =
          CompletableFuture.supplyAsync(
              () ->
                  exec.start(
                      namespace,
                      pod,
                      SandboxPodTemplate.CONTAINER,
                      command,
                      envelope.line(),
                      stdout,
                      stderr),
              ExecutionThreads.engineCalls());
    }
    boolean exitStatusLost = false;
    try {
      CompletableFuture<Integer> exit = starting.thenCompose(PodExec.Running::exitCode);
      CompletableFuture.anyOf(exit, guard.signal(), reported)
          .get(request.timeout().plus(STREAM_GRACE).toMillis(), TimeUnit.MILLISECONDS);
      // An exit just before the deadline counts: the deadline can no longer turn it into a timeout.
      if (exit.isDone() && guard.end()) {
        exitCode = exit.get();
      } else if (reported.isDone() && guard.end()) {
        // The runner reported its end, but no exit status followed: a process the code started
        // still holds the exec's output. The done record decides (below); the caller deletes the
        // pod.
        exitStatusLost = true;
      }
    } catch (ExecutionException e) {
      guard.end();
      broken = describe(e.getCause());
    } catch (TimeoutException e) {
      // The deadline deleted the pod long ago and the stream still did not end: give up on it.
      broken = "the exec stream did not end after the pod was deleted";
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      broken = "the operator stopped waiting for the execution";
    } catch (RuntimeException e) {
      broken = describe(e);
    } finally {
      deadline.cancel(false);
      starting.thenAccept(PodExec.Running::close); // now, or once an abandoned exec opens after all
      stdout.shut();
      stderr.shut();
      streams.finish();
    }
    Instant finished = clock.instant();

    if (guard.state() == RunGuard.Stop.DEADLINE) {
      return outcome(Termination.TIMED_OUT, null, streams, pod, started, finished, null);
    }
    if (guard.state() == RunGuard.Stop.CANCELLED) {
      return outcome(
          Termination.CANCELLED, null, streams, pod, started, finished, control.cancelReason());
    }
    RunnerReport report = streams.report(); // parsed once; the streams are finished
    boolean suspicious = !report.finished() && (exitCode == null || exitCode != 0);
    PodState state =
        suspicious
            ? settledState(
                pod,
                maybeSandboxDeath(exitCode, streams.stderrCapture().text())
                    ? sandboxDeathSettleWait
                    : SETTLE_WAIT)
            : PodState.RUNNING;
    if (state.gone()) {
      return outcome(
          Termination.SANDBOX_FAILED,
          null,
          streams,
          pod,
          started,
          finished,
          "The sandbox pod "
              + pod
              + " was deleted during the execution"
              + (state.evidence() == null ? "" : " (" + state.evidence() + ")")
              + "; the code's own outcome is unknown");
    }
    OomEvidence memory = new OomEvidence("sandbox pod", settings.memory());
    if (state.oomKilled()) {
      return outcome(
          Termination.OUT_OF_MEMORY,
          null,
          streams,
          pod,
          started,
          finished,
          memory.sandboxStopped());
    }
    if (state.failed()) {
      return outcome(
          Termination.SANDBOX_FAILED,
          null,
          streams,
          pod,
          started,
          finished,
          "The sandbox pod " + pod + " failed during the execution: " + state.evidence());
    }
    if (exitCode == null && report.finished()) {
      // The runner's done record (authenticated by the nonce) arrived, but the exit status did
      // not: a process the code left running holds the exec's stdout (see EXIT_STATUS_GRACE), or
      // containerd's stream server reset the connection as a fast process exited (kubelet logs
      // "connection reset by peer"), losing the status frame. The runner writes the record once
      // the code's process has ended, then exits 0 after "ok", 1 after "error" and with the
      // recorded code after "exit".
      exitCode = report.impliedExitCode();
    }
    if (exitStatusLost && exitCode != null) {
      return outcome(
          Termination.EXITED,
          exitCode,
          streams,
          pod,
          started,
          finished,
          "Processes the code left running were stopped with the sandbox");
    }
    if (exitCode == null) {
      String why = broken == null ? "no exit status was reported" : broken;
      return outcome(
          Termination.SANDBOX_FAILED,
          null,
          streams,
          pod,
          started,
          finished,
          "The exec stream to sandbox pod "
              + pod
              + " broke: "
              + why
              + (state.evidence() == null ? "" : " (" + state.evidence() + ")"));
    }
    String detail = null;
    if (OomEvidence.sigkilledBeforeDone(exitCode, report.finished())) {
      // SIGKILL while the pod lives on: the memory cgroup's count says whether the limit sent it.
      OomEvidence.Verdict verdict = memory.afterSigkill(oomKills(pod));
      if (verdict.outOfMemory()) {
        return outcome(
            Termination.OUT_OF_MEMORY, null, streams, pod, started, finished, verdict.message());
      }
      detail = verdict.message();
    }
    return outcome(Termination.EXITED, exitCode, streams, pod, started, finished, detail);
  }

  /** The runner's argv: with the once-only marker, and under the process limit where it applies. */
  static List<String> runnerCommand(
      dev.sandboxes.api.v1alpha1.Language language, boolean limitProcesses, int pidsLimit) {
    List<String> command = RunnerProgram.command(language, RunnerProgram.ONCE_MARKER);
    return limitProcesses ? SandboxProcessLimit.wrap(command, pidsLimit) : command;
  }

  private static boolean attach(WarmRunners.Warm warm, OutputStream stdout, OutputStream stderr) {
    try {
      warm.stdout().attach(stdout);
      warm.stderr().attach(stderr);
      return true;
    } catch (java.io.IOException e) {
      return false;
    }
  }

  /**
   * Reads oom_kill from the pod's memory cgroup (memory.oom_control on cgroup v1, memory.events on
   * v2) with a second exec. Each pod runs one execution, so a count above zero happened during it.
   * Under gVisor the files do not exist; there the memory limit stops the whole sandbox, which the
   * pod's status shows instead.
   */
  OomEvidence.OomKills oomKills(String pod) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    PodExec.Running probe = null;
    try {
      probe =
          exec.start(
              namespace,
              pod,
              SandboxPodTemplate.CONTAINER,
              OomEvidence.READ_COMMAND,
              new byte[0],
              out,
              OutputStream.nullOutputStream());
      probe.exitCode().handle((code, error) -> code).get(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return OomEvidence.OomKills.unreadable(null);
    } catch (ExecutionException | TimeoutException | RuntimeException e) {
      return OomEvidence.OomKills.unreadable(null);
    } finally {
      if (probe != null) {
        probe.close();
      }
    }
    return OomEvidence.OomKills.parse(out.toString(StandardCharsets.UTF_8), null);
  }

  /** What the pod's status says about a run that did not end well. */
  record PodState(boolean gone, boolean oomKilled, boolean failed, String evidence) {
    static final PodState RUNNING = new PodState(false, false, false, null);

    boolean settled() {
      return gone || oomKilled || failed;
    }
  }

  /**
   * The pod's state once it settled: the exec can end a moment before the kubelet reports why (OOM
   * kill, eviction), so a run without a runner report polls briefly before it blames the code.
   */
  private PodState settledState(String pod, Duration wait) {
    long until = System.nanoTime() + wait.toNanos();
    PodState state = podState(pod);
    while (!state.settled() && System.nanoTime() < until) {
      try {
        Thread.sleep(100);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
      state = podState(pod);
    }
    return state;
  }

  /**
   * Exit statuses that a dying sandbox produces: none at all, SIGKILL, or runsc exec's 128 with its
   * lost-connection message (a plain exit(128) of the code does not wait). Only decides how long to
   * look; the verdict still needs the pod's own evidence.
   */
  static boolean maybeSandboxDeath(Integer exitCode, String stderr) {
    return exitCode == null
        || exitCode == OomEvidence.SIGKILL_EXIT_CODE
        || (exitCode == 128
            && stderr != null
            && stderr.contains("urpc method")
            && stderr.contains("EOF"));
  }

  PodState podState(String podName) {
    Pod pod;
    try {
      pod = client.pods().inNamespace(namespace).withName(podName).get();
    } catch (RuntimeException e) {
      return new PodState(false, false, false, "its status could not be read: " + describe(e));
    }
    if (pod == null) {
      return new PodState(true, false, false, null);
    }
    return classify(pod);
  }

  /** Reads the evidence in a pod's status. */
  static PodState classify(Pod pod) {
    Optional<ContainerStateTerminated> terminated = SandboxPods.terminated(pod);
    if (terminated.isPresent() && SandboxPods.oomKilled(terminated.get())) {
      return new PodState(false, true, false, null);
    }
    if (terminated.isPresent() && SandboxPods.sandboxDied(terminated.get())) {
      return new PodState(false, false, true, SandboxPods.howEnded(pod));
    }
    String reason = pod.getStatus() == null ? null : pod.getStatus().getReason();
    if (SandboxPods.deleting(pod)) {
      return new PodState(true, false, false, reason == null ? null : "reason " + reason);
    }
    if (SandboxPods.ended(pod)) {
      return new PodState(false, false, true, SandboxPods.howEnded(pod));
    }
    // A node that stops reporting leaves its pods Running but not Ready: the likely story behind a
    // broken stream.
    boolean notReady =
        SandboxPods.condition(pod, "Ready").map(c -> "False".equals(c.getStatus())).orElse(false);
    if (notReady) {
      String node = pod.getSpec() == null ? null : pod.getSpec().getNodeName();
      return new PodState(
          false,
          false,
          false,
          "the pod is no longer Ready; its node "
              + (node == null ? "" : node + " ")
              + "may be gone");
    }
    return PodState.RUNNING;
  }

  private static ExecutionOutcome outcome(
      Termination termination,
      Integer exitCode,
      RunnerStreams streams,
      String pod,
      Instant started,
      Instant finished,
      String detail) {
    return new ExecutionOutcome(
        termination,
        exitCode,
        streams.stdoutCapture(),
        streams.stderrCapture(),
        streams.report(),
        pod,
        started,
        finished,
        detail);
  }

  static String describe(Throwable t) {
    if (t instanceof PodExec.StreamBrokenException) {
      return t.getMessage();
    }
    Throwable root = t;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    return root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage().strip();
  }
}
