package dev.sandboxes.operator.backend.selfmanaged;

import dev.sandboxes.operator.runner.RunnerProgram;
import dev.sandboxes.operator.testing.LocalRunner;
import java.io.OutputStream;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A {@link PodExec} whose behaviour the test scripts. By default it runs the command as a local
 * process (the real runner with python3 or node on this machine), so results are genuine.
 */
public final class ScriptedPodExec implements PodExec {

  /** What an exec does; returns its exit-code future. */
  public interface Script {
    CompletableFuture<Integer> run(
        String pod, List<String> command, byte[] stdin, OutputStream stdout, OutputStream stderr);
  }

  public final List<String> execedPods = new CopyOnWriteArrayList<>();

  /** The argv of every exec, in order. */
  public final List<List<String>> commands = new CopyOnWriteArrayList<>();

  private final List<Process> processes = new CopyOnWriteArrayList<>();

  /** Each pod's own /tmp for the runner's once-only marker (a real pod has its own emptyDir). */
  private final java.nio.file.Path podTmp = createTempDirectory();

  private volatile Script script =
      (pod, command, stdin, stdout, stderr) ->
          LocalRunner.start(perPod(pod, command), stdin, stdout, stderr, processes);

  public void script(Script script) {
    this.script = script;
  }

  @Override
  public Running start(
      String namespace,
      String pod,
      String container,
      List<String> command,
      byte[] stdin,
      OutputStream stdout,
      OutputStream stderr) {
    execedPods.add(pod);
    commands.add(List.copyOf(command));
    CompletableFuture<Integer> exit = script.run(pod, command, stdin, stdout, stderr);
    return new Running() {
      @Override
      public CompletableFuture<Integer> exitCode() {
        return exit;
      }

      @Override
      public void close() {}
    };
  }

  /** Pods in which a runner was pre-started (opened without input), in order. */
  public final List<String> openedPods = new CopyOnWriteArrayList<>();

  /** The local pre-started runners by pod, newest last. */
  public final java.util.Map<String, LocalRunner.Waiting> waiting =
      new java.util.concurrent.ConcurrentHashMap<>();

  private volatile boolean preStart;
  private volatile boolean likeContainerd;

  /**
   * From now on {@link #open} starts the real runner as a local process at once, with its stdin
   * empty (as the exec API does in a pod), instead of deferring the whole exec to the envelope.
   */
  public void preStartLocally() {
    preStart = true;
  }

  /**
   * {@link #preStartLocally}, with the exit status held back while any process still holds the
   * runner's stdout or stderr, as containerd does (see {@link
   * LocalRunner#startWaitingLikeContainerd}).
   */
  public void preStartLocallyLikeContainerd() {
    likeContainerd = true;
    preStart = true;
  }

  @Override
  public Waiting open(
      String namespace,
      String pod,
      String container,
      List<String> command,
      OutputStream stdout,
      OutputStream stderr) {
    if (!preStart) {
      return PodExec.super.open(namespace, pod, container, command, stdout, stderr);
    }
    openedPods.add(pod);
    LocalRunner.Waiting local =
        likeContainerd
            ? LocalRunner.startWaitingLikeContainerd(
                perPod(pod, command), stdout, stderr, processes)
            : LocalRunner.startWaiting(perPod(pod, command), stdout, stderr, processes);
    waiting.put(pod, local);
    return new Waiting() {
      @Override
      public boolean alive() {
        return local.process().isAlive();
      }

      @Override
      public Running send(byte[] stdin) {
        local.send(stdin);
        return new Running() {
          @Override
          public CompletableFuture<Integer> exitCode() {
            return local.exit();
          }

          @Override
          public void close() {}
        };
      }

      @Override
      public void close() {
        local.process().destroyForcibly();
      }
    };
  }

  /** The command with the once-only marker moved into the pod's own directory. */
  public List<String> perPod(String pod, List<String> command) {
    String marker = podTmp.resolve(pod).toString();
    return command.stream()
        .map(arg -> arg.equals(RunnerProgram.ONCE_MARKER) ? marker : arg)
        .toList();
  }

  private static java.nio.file.Path createTempDirectory() {
    try {
      return java.nio.file.Files.createTempDirectory("scripted-pods");
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** Kills local processes left by abandoned execs. */
  public void killAll() {
    processes.forEach(
        p -> {
          p.descendants().forEach(ProcessHandle::destroyForcibly);
          p.destroyForcibly();
        });
  }
}
