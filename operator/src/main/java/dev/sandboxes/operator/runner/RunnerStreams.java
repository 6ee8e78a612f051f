package dev.sandboxes.operator.runner;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.OutputStream;

/**
 * The operator's end of one execution's output: a stdout sink that separates runner records from
 * user output, a stderr sink, both capped, and the parsed report once the streams are done.
 *
 * <p>Backends write whatever the sandbox sends into {@link #stdout()} and {@link #stderr()} (each
 * from a single thread) and call {@link #finish()} when the streams end.
 */
public final class RunnerStreams {

  /** Largest return value kept, in bytes of JSON (it is stored in the status object in etcd). */
  public static final int MAX_RESULT_BYTES = 256 * 1024;

  private static final int MAX_DONE_BYTES = 16 * 1024;
  private static final ObjectMapper JSON = new ObjectMapper();

  private final CappedOutput userStdout;
  private final CappedOutput userStderr;
  private final RunnerStdoutDemux demux;
  private final RunnerStdoutDemux.BoundedBytes result =
      new RunnerStdoutDemux.BoundedBytes(MAX_RESULT_BYTES);
  private final RunnerStdoutDemux.BoundedBytes done =
      new RunnerStdoutDemux.BoundedBytes(MAX_DONE_BYTES);
  private volatile boolean finished;

  public RunnerStreams(String nonce, int maxOutputBytes) {
    this.userStdout = new CappedOutput(maxOutputBytes);
    this.userStderr = new CappedOutput(maxOutputBytes);
    this.demux =
        new RunnerStdoutDemux(
            nonce,
            userStdout,
            (kind, bytes, offset, length) -> {
              if (kind == 'r') {
                result.append(bytes, offset, length);
              } else {
                done.append(bytes, offset, length);
              }
            });
  }

  /** Where the sandbox's stdout goes. */
  public OutputStream stdout() {
    return demux;
  }

  /** Where the sandbox's stderr goes. */
  public OutputStream stderr() {
    return userStderr;
  }

  /** Marks the end of both streams. */
  public void finish() {
    if (!finished) {
      finished = true;
      demux.close();
    }
  }

  public StreamCapture stdoutCapture() {
    return userStdout.capture();
  }

  public StreamCapture stderrCapture() {
    return userStderr.capture();
  }

  /** Parses the runner's records; call after {@link #finish()}. */
  public RunnerReport report() {
    JsonNode record;
    try {
      byte[] bytes = done.toByteArray();
      if (bytes.length == 0) {
        return RunnerReport.NONE;
      }
      record = JSON.readTree(bytes);
    } catch (IOException malformed) {
      return RunnerReport.NONE;
    }
    String status = text(record, "status");
    String kind = text(record, "kind");
    String message = text(record, "message");
    JsonNode value = null;
    String problem = null;
    if (result.total() > 0) {
      if (result.overflowed()) {
        problem =
            "the return value is "
                + result.total()
                + " bytes of JSON; at most "
                + MAX_RESULT_BYTES
                + " fit in status.result";
      } else {
        try {
          value = JSON.readTree(result.toByteArray());
        } catch (IOException malformed) {
          problem = "the runner sent a return value that is not valid JSON";
        }
      }
    }
    if (value != null && value.isNull()) {
      value = null;
    }
    return new RunnerReport(status, kind, message, value, problem);
  }

  private static String text(JsonNode node, String field) {
    JsonNode value = node.get(field);
    return value == null || value.isNull() ? null : value.asText();
  }
}
