package dev.sandboxes.operator.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sandboxes.api.v1alpha1.ExecutionMode;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.operator.execution.ExecutionOutcome;
import dev.sandboxes.operator.execution.Termination;
import dev.sandboxes.operator.runner.RunnerProgram;
import dev.sandboxes.operator.runner.RunnerStreams;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Runs the real runner programs as local processes (python3 and node on this machine), the way a
 * sandbox runs them: envelope on stdin without closing it, stdout and stderr pumped into the
 * operator's capped sinks, the whole process tree killed at the deadline. Test-only: no isolation.
 */
public final class LocalRunner {

  private static final ObjectMapper JSON = new ObjectMapper();

  private LocalRunner() {}

  public static ExecutionOutcome run(Language language, String code, String argumentsJson) {
    return run(
        language,
        ExecutionMode.FUNCTION,
        "main",
        code,
        argumentsJson,
        Duration.ofSeconds(20),
        65536);
  }

  public static ExecutionOutcome script(Language language, String code) {
    return run(language, ExecutionMode.SCRIPT, "main", code, "{}", Duration.ofSeconds(20), 65536);
  }

  public static ExecutionOutcome run(
      Language language,
      ExecutionMode mode,
      String entrypoint,
      String code,
      String argumentsJson,
      Duration timeout,
      int maxOutputBytes) {
    return run(
        language,
        mode,
        entrypoint,
        code,
        argumentsJson,
        timeout,
        maxOutputBytes,
        RunnerProgram.newNonce(),
        List.of());
  }

  /**
   * Runs with a given nonce (a test may hand it to the code to play an attacker who found it) and a
   * command prefix (for example {@code setpriv --reuid=65534 ...} to run as an unprivileged user,
   * as sandboxes do).
   */
  public static ExecutionOutcome run(
      Language language,
      ExecutionMode mode,
      String entrypoint,
      String code,
      String argumentsJson,
      Duration timeout,
      int maxOutputBytes,
      String nonce,
      List<String> prefix) {
    JsonNode arguments;
    try {
      arguments = JSON.readTree(argumentsJson);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return run(
        language,
        mode,
        code,
        arguments,
        timeout,
        maxOutputBytes,
        RunnerProgram.envelope(nonce, mode, entrypoint, code, arguments, false),
        nonce,
        prefix);
  }

  /** Runs with an output directory and artifact limits, as backends do. */
  public static ExecutionOutcome withArtifacts(
      Language language,
      ExecutionMode mode,
      String code,
      dev.sandboxes.operator.runner.ArtifactLimits limits) {
    String nonce = RunnerProgram.newNonce();
    JsonNode arguments = JSON.createObjectNode();
    byte[] line = RunnerProgram.envelope(nonce, mode, "main", code, arguments, false, limits);
    return run(
        language,
        mode,
        code,
        arguments,
        Duration.ofSeconds(30),
        65536,
        line,
        nonce,
        List.of(),
        limits);
  }

  /** Function mode, as for code read from a Secret: the runner must print no source line. */
  public static ExecutionOutcome runHidingSource(Language language, String code) {
    String nonce = RunnerProgram.newNonce();
    JsonNode arguments = JSON.createObjectNode();
    return run(
        language,
        ExecutionMode.FUNCTION,
        code,
        arguments,
        Duration.ofSeconds(20),
        65536,
        RunnerProgram.envelope(nonce, ExecutionMode.FUNCTION, "main", code, arguments, true),
        nonce,
        List.of());
  }

  private static ExecutionOutcome run(
      Language language,
      ExecutionMode mode,
      String code,
      JsonNode arguments,
      Duration timeout,
      int maxOutputBytes,
      byte[] line,
      String nonce,
      List<String> prefix) {
    return run(language, mode, code, arguments, timeout, maxOutputBytes, line, nonce, prefix, null);
  }

  private static ExecutionOutcome run(
      Language language,
      ExecutionMode mode,
      String code,
      JsonNode arguments,
      Duration timeout,
      int maxOutputBytes,
      byte[] line,
      String nonce,
      List<String> prefix,
      dev.sandboxes.operator.runner.ArtifactLimits limits) {
    RunnerStreams streams = new RunnerStreams(nonce, maxOutputBytes, limits);
    Instant started = Instant.now();
    try {
      List<String> command = new java.util.ArrayList<>(prefix);
      command.addAll(RunnerProgram.command(language));
      ProcessBuilder builder =
          LocalInterpreters.applyTo(new ProcessBuilder(command))
              .directory(new java.io.File("/tmp"));
      if (limits != null) {
        builder.environment().put("SANDBOX_OUTPUT_DIR", limits.dir()); // the test's own directory
      } else {
        builder
            .environment()
            .remove("SANDBOX_OUTPUT_DIR"); // as in a sandbox: only the envelope asks for artifacts
      }
      Process process = builder.start();
      Thread out = pump(process.getInputStream(), streams.stdout());
      Thread err = pump(process.getErrorStream(), streams.stderr());
      process.getOutputStream().write(line);
      process.getOutputStream().flush(); // stdin stays open, as over an exec stream
      boolean exited = process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
      if (!exited) {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
        process.waitFor();
      }
      out.join(10_000);
      err.join(10_000);
      streams.finish();
      return new ExecutionOutcome(
          exited ? Termination.EXITED : Termination.TIMED_OUT,
          exited ? process.exitValue() : null,
          streams.stdoutCapture(),
          streams.stderrCapture(),
          streams.report(),
          "local",
          started,
          Instant.now(),
          null);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /**
   * Starts a command as a local process the way an exec into a sandbox does: {@code stdin} written
   * and left open, stdout and stderr pumped into the sinks. The future completes with the exit code
   * once both streams are drained.
   */
  public static CompletableFuture<Integer> start(
      List<String> command,
      byte[] stdin,
      OutputStream stdout,
      OutputStream stderr,
      List<Process> started) {
    Waiting waiting = startWaiting(command, stdout, stderr, started);
    waiting.send(stdin);
    return waiting.exit();
  }

  /**
   * A local runner process started with its stdin still empty, as a pre-started runner in a pod.
   */
  public record Waiting(Process process, CompletableFuture<Integer> exit) {
    /** Writes to its stdin and leaves stdin open, as over an exec stream. */
    public void send(byte[] stdin) {
      try {
        process.getOutputStream().write(stdin);
        process.getOutputStream().flush();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  /** Starts the command now; its stdin is written later through {@link Waiting#send}. */
  public static Waiting startWaiting(
      List<String> command, OutputStream stdout, OutputStream stderr, List<Process> started) {
    return startWaiting(command, stdout, stderr, started, 10_000);
  }

  /**
   * Like {@link #startWaiting}, but the exit code arrives only once every holder of stdout and
   * stderr has let go, as with containerd's exec streams: a process the code left running with the
   * output open keeps the exit status from ever arriving.
   */
  public static Waiting startWaitingLikeContainerd(
      List<String> command, OutputStream stdout, OutputStream stderr, List<Process> started) {
    return startWaiting(command, stdout, stderr, started, 0); // join(0): no limit
  }

  /** {@link #start} with the exit status of {@link #startWaitingLikeContainerd}. */
  public static CompletableFuture<Integer> startLikeContainerd(
      List<String> command,
      byte[] stdin,
      OutputStream stdout,
      OutputStream stderr,
      List<Process> started) {
    Waiting waiting = startWaitingLikeContainerd(command, stdout, stderr, started);
    waiting.send(stdin);
    return waiting.exit();
  }

  private static Waiting startWaiting(
      List<String> command,
      OutputStream stdout,
      OutputStream stderr,
      List<Process> started,
      long drainMillis) {
    if (command.contains(RunnerProgram.ONCE_MARKER)) {
      // On this machine /tmp is shared by every test and user: the marker would refuse all later
      // runs.
      throw new IllegalArgumentException(
          "a local runner needs a once-only marker path of its own, not "
              + RunnerProgram.ONCE_MARKER
              + " (see ScriptedPodExec.perPod)");
    }
    try {
      Process process =
          LocalInterpreters.applyTo(new ProcessBuilder(command))
              .directory(new java.io.File("/tmp"))
              .start();
      started.add(process);
      Thread out = pump(process.getInputStream(), stdout);
      Thread err = pump(process.getErrorStream(), stderr);
      return new Waiting(
          process,
          process
              .onExit()
              .thenApplyAsync(
                  p -> {
                    try {
                      out.join(drainMillis);
                      err.join(drainMillis);
                    } catch (InterruptedException e) {
                      Thread.currentThread().interrupt();
                    }
                    return p.exitValue();
                  }));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static Thread pump(InputStream in, OutputStream sink) {
    Thread thread =
        new Thread(
            () -> {
              byte[] buffer = new byte[65536];
              try {
                int read;
                while ((read = in.read(buffer)) >= 0) {
                  sink.write(buffer, 0, read);
                }
              } catch (IOException ignored) {
                // process gone
              }
            });
    thread.setDaemon(true);
    thread.start();
    return thread;
  }
}
