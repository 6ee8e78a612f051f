package dev.sandboxes.operator.backend.selfmanaged;

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
    CompletableFuture<Integer> run(String pod, List<String> command, byte[] stdin, OutputStream stdout, OutputStream stderr);
  }

  public final List<String> execedPods = new CopyOnWriteArrayList<>();
  /** The argv of every exec, in order. */
  public final List<List<String>> commands = new CopyOnWriteArrayList<>();
  private final List<Process> processes = new CopyOnWriteArrayList<>();
  private volatile Script script =
      (pod, command, stdin, stdout, stderr) -> LocalRunner.start(command, stdin, stdout, stderr, processes);

  public void script(Script script) {
    this.script = script;
  }

  @Override
  public Running start(String namespace, String pod, String container, List<String> command, byte[] stdin,
      OutputStream stdout, OutputStream stderr) {
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

  /** Kills local processes left by abandoned execs. */
  public void killAll() {
    processes.forEach(p -> {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
    });
  }
}
