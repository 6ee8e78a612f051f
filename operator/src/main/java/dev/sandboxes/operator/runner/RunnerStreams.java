package dev.sandboxes.operator.runner;

import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.io.OutputStream;
import java.util.concurrent.CompletableFuture;

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
  // Exactly one JSON value per record set, no duplicate keys: the runners never write anything
  // else.
  private static final ObjectMapper JSON =
      JsonMapper.builder()
          .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
          .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
          .build();

  private final CappedOutput userStdout;
  private final CappedOutput userStderr;
  private final RunnerStdoutDemux demux;
  private final RunnerStdoutDemux.BoundedBytes result =
      new RunnerStdoutDemux.BoundedBytes(MAX_RESULT_BYTES);
  private final RunnerStdoutDemux.BoundedBytes done =
      new RunnerStdoutDemux.BoundedBytes(MAX_DONE_BYTES);
  private final ArtifactRecords artifacts;
  private int doneRecords;
  private boolean recordAfterDone;
  private volatile boolean finished;
  private final CompletableFuture<Void> doneRecord = new CompletableFuture<>();

  /**
   * Streams for a runner that collects no artifacts (none are expected; any that arrive are capped
   * by the defaults).
   */
  public RunnerStreams(String nonce, int maxOutputBytes) {
    this(nonce, maxOutputBytes, ArtifactLimits.DEFAULT);
  }

  /** Streams that accept artifacts up to {@code limits}. */
  public RunnerStreams(String nonce, int maxOutputBytes, ArtifactLimits limits) {
    this.artifacts = new ArtifactRecords(limits == null ? ArtifactLimits.DEFAULT : limits);
    this.userStdout = new CappedOutput(maxOutputBytes);
    this.userStderr = new CappedOutput(maxOutputBytes);
    this.demux =
        new RunnerStdoutDemux(
            nonce,
            userStdout,
            new RunnerStdoutDemux.RecordSink() {
              @Override
              public void begin(char kind, int length) {
                if (doneRecords > 0) {
                  recordAfterDone = true;
                }
                if (kind == 'd') {
                  doneRecords++;
                }
                artifacts.begin(kind, length);
              }

              @Override
              public void append(char kind, byte[] bytes, int offset, int length) {
                if (kind == 'r') {
                  result.append(bytes, offset, length);
                } else if (ArtifactRecords.isArtifactKind(kind)) {
                  artifacts.append(bytes, offset, length);
                } else {
                  done.append(bytes, offset, length);
                }
              }

              @Override
              public void end(char kind) {
                if (kind == 'd') {
                  doneRecord.complete(null);
                }
              }
            });
  }

  /**
   * Completes when a whole done record with this execution's nonce has arrived on stdout. The
   * runners write it once the code's process has ended (docs/runner-protocol.md, "Ending"), so a
   * backend whose exit status waits for every holder of the output stream to let go (a process the
   * code left running) can end the run on it. Whether the record is believed is decided later by
   * {@link #report()}.
   */
  public CompletableFuture<Void> doneRecordArrived() {
    return doneRecord;
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

  /**
   * Parses the runner's records; call after {@link #finish()}. The runner writes at most one done
   * record, last, and its {@code resultBytes} counts the result records exactly; records that break
   * these rules were not all written by the runner, and the report says so instead of choosing one
   * of them (see docs/runner-protocol.md, "What records can claim").
   */
  public RunnerReport report() {
    if (doneRecords == 0) {
      // Killed, or os._exit: files the runner still sent are kept, nothing else is claimed.
      CollectedArtifacts files = artifacts.result();
      return files.isEmpty()
          ? RunnerReport.NONE
          : new RunnerReport(null, null, null, null, null, null, null, files);
    }
    if (doneRecords > 1) {
      return RunnerReport.untrusted(doneRecords + " done records arrived; the runner writes one");
    }
    if (recordAfterDone) {
      return RunnerReport.untrusted("records arrived after the done record");
    }
    if (done.overflowed()) {
      return RunnerReport.untrusted("the done record is larger than " + MAX_DONE_BYTES + " bytes");
    }
    JsonNode record;
    try {
      record = JSON.readTree(done.toByteArray());
    } catch (IOException malformed) {
      record = null;
    }
    if (record == null || !record.isObject()) {
      return RunnerReport.untrusted("the done record is not a JSON object");
    }
    String status = text(record, "status");
    if (!"ok".equals(status) && !"error".equals(status) && !"exit".equals(status)) {
      return RunnerReport.untrusted(
          "the done record has status "
              + (status == null ? "none" : "\"" + abbreviate(status) + "\""));
    }
    JsonNode declared = record.get("resultBytes");
    long resultBytes =
        declared == null
            ? 0
            : declared.canConvertToLong() && declared.isIntegralNumber() ? declared.asLong() : -1;
    if (resultBytes != result.total() || (resultBytes > 0 && !"ok".equals(status))) {
      return RunnerReport.untrusted(
          "the result records hold "
              + result.total()
              + " bytes but the done record ("
              + status
              + ") accounts for "
              + Math.max(resultBytes, 0));
    }
    JsonNode code = record.get("code");
    Integer exitCode = code != null && code.isInt() ? code.asInt() : null;
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
    return new RunnerReport(
        status, kind, message, value, problem, exitCode, null, artifacts.result());
  }

  private static String abbreviate(String text) {
    return text.length() <= 40 ? text : text.substring(0, 40) + "...";
  }

  private static String text(JsonNode node, String field) {
    JsonNode value = node.get(field);
    return value == null || value.isNull() ? null : value.asText();
  }
}
