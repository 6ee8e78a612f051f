package dev.sandboxes.operator.backend.aliyun;

import dev.sandboxes.operator.runner.RunnerStreams;
import dev.sandboxes.operator.runner.StreamCapture;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * Reads what {@link AgentRunCommand} printed: the kept head and tail of the runner's stdout, the
 * head of its stderr, the full byte counts and the exit code. The kept bytes go into the run's
 * {@link RunnerStreams} like any provider's output; the bytes the sandbox dropped between head and
 * tail are counted as user output (the runner writes its records last, so they are in the tail).
 */
final class AgentRunOutput {

  /** The parsed answer; {@code exitCode} is null when the command's framing is incomplete. */
  record Parsed(
      Integer exitCode, long stdoutGap, long stderrGap, String problem, List<String> shellErrors) {}

  private AgentRunOutput() {}

  /**
   * Feeds the kept bytes into the streams (which the caller then finishes) and returns the counts.
   */
  static Parsed parse(String stdout, String stderr, RunnerStreams streams) {
    List<String> shellErrors = new ArrayList<>();
    Stream out = read(stdout, streams.stdout(), null);
    Stream err = read(stderr, streams.stderr(), shellErrors);
    String problem =
        out.problem != null
            ? "stdout: " + out.problem
            : err.problem != null ? "stderr: " + err.problem : null;
    if (problem == null && out.exitCode == null) {
      problem = "the command ended without reporting the runner's exit code";
    }
    return new Parsed(out.exitCode, out.gap(), err.gap(), problem, shellErrors);
  }

  /** A capture with the dropped bytes added to the count (and so marked truncated). */
  static StreamCapture withGap(StreamCapture capture, long gap) {
    if (gap <= 0) {
      return capture;
    }
    return new StreamCapture(capture.text(), capture.totalBytes() + gap, true);
  }

  private static final class Stream {
    long kept;
    Long total;
    Integer exitCode;
    String problem;

    long gap() {
      return total == null ? 0 : Math.max(0, total - kept);
    }
  }

  private static Stream read(String text, OutputStream sink, List<String> foreign) {
    Stream stream = new Stream();
    for (String line : text.split("\n", -1)) {
      if (line.isEmpty()) {
        continue;
      }
      char kind = line.charAt(0);
      boolean framed = line.length() >= 2 && line.charAt(1) == ' ' && "htnx".indexOf(kind) >= 0;
      if (!framed) {
        if (foreign != null) {
          foreign.add(line); // the shell's own complaints (a missing tool, a failed cd)
        } else if (stream.problem == null) {
          stream.problem = "an unexpected line: " + abbreviate(line);
        }
        continue;
      }
      String value = line.substring(2).strip();
      try {
        switch (kind) {
          case 'h', 't' -> {
            byte[] bytes = Base64.getDecoder().decode(value);
            sink.write(bytes, 0, bytes.length);
            stream.kept += bytes.length;
          }
          case 'n' -> stream.total = Long.parseLong(value);
          default -> stream.exitCode = Integer.parseInt(value);
        }
      } catch (IllegalArgumentException e) {
        if (stream.problem == null) {
          stream.problem = "a malformed line: " + abbreviate(line);
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    if (stream.total == null && stream.problem == null && (foreign == null || stream.kept > 0)) {
      stream.problem = "no byte count";
    }
    return stream;
  }

  private static String abbreviate(String line) {
    return line.length() <= 80 ? line : line.substring(0, 80) + "…";
  }
}
