package dev.sandboxes.operator.runner;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The operator's rules for believing records: one done record, last, accounting for the result
 * records exactly, and agreeing with the exit code. Anything else is reported as untrusted, never
 * resolved by picking one of the records.
 */
@Tag("unit")
class RunnerStreamsTest {

  private static final String NONCE = "0123456789abcdef0123456789abcdef";

  @Test
  void aSingleDoneRecordWithAMatchingResultIsBelieved() throws IOException {
    RunnerReport report =
        report(record('r', "[1,2]") + record('d', "{\"status\":\"ok\",\"resultBytes\":5}"));
    assertThat(report.isUntrusted()).isFalse();
    assertThat(report.status()).isEqualTo("ok");
    assertThat(report.result().toString()).isEqualTo("[1,2]");
    assertThat(report.against(0)).isEqualTo(report);
  }

  /** Issue 18: a backend may end a run on the done record when the exit status cannot arrive. */
  @Test
  void theDoneRecordIsSignalledOnceItHasArrivedWhole() throws IOException {
    RunnerStreams streams = new RunnerStreams(NONCE, 1024);
    byte[] bytes =
        (record('r', "42") + record('d', "{\"status\":\"ok\",\"resultBytes\":2}"))
            .getBytes(StandardCharsets.UTF_8);
    streams.stdout().write(bytes, 0, bytes.length - 1);
    assertThat(streams.doneRecordArrived()).as("the payload's last byte is missing").isNotDone();
    streams.stdout().write(bytes, bytes.length - 1, 1);
    assertThat(streams.doneRecordArrived()).isDone();
  }

  @Test
  void aDoneRecordUnderAnotherNonceIsUserOutputAndSignalsNothing() throws IOException {
    RunnerStreams streams = new RunnerStreams(NONCE, 1024);
    String foreign = record('d', "{\"status\":\"ok\"}").replace(NONCE, "f".repeat(32));
    streams.stdout().write(foreign.getBytes(StandardCharsets.UTF_8));
    assertThat(streams.doneRecordArrived()).isNotDone();
    streams.finish();
    assertThat(streams.stdoutCapture().totalBytes()).isEqualTo(foreign.length());
  }

  @Test
  void aSecondDoneRecordIsEvidenceOfForgeryAndNeitherIsBelieved() throws IOException {
    RunnerReport report =
        report(
            record(
                    'd',
                    "{\"status\":\"error\",\"kind\":\"MemoryError\",\"message\":\"MemoryError\"}")
                + record('d', "{\"status\":\"ok\"}"));
    assertThat(report.isUntrusted()).isTrue();
    assertThat(report.untrusted()).contains("2 done records");
    assertThat(report.finished()).isFalse();
    assertThat(report.kind()).isNull();
  }

  @Test
  void aSecondResultIsCaughtByTheDoneRecordsByteCount() throws IOException {
    RunnerReport report =
        report(
            record('r', "\"forged\"")
                + record('r', "\"real\"")
                + record('d', "{\"status\":\"ok\",\"resultBytes\":6}"));
    assertThat(report.isUntrusted()).isTrue();
    assertThat(report.result()).isNull();
    assertThat(report.untrusted()).contains("14 bytes").contains("accounts for 6");
  }

  @Test
  void recordsAfterTheDoneRecordAreNotBelieved() throws IOException {
    RunnerReport report = report(record('d', "{\"status\":\"ok\"}") + record('r', "1"));
    assertThat(report.isUntrusted()).isTrue();
    assertThat(report.untrusted()).contains("after the done record");
  }

  @Test
  void aResultWithAnErrorRecordIsNotBelieved() throws IOException {
    RunnerReport report =
        report(
            record('r', "1")
                + record('d', "{\"status\":\"error\",\"kind\":\"Exception\",\"message\":\"x\"}"));
    assertThat(report.isUntrusted()).isTrue();
  }

  @Test
  void unknownStatusesAndMalformedDoneRecordsAreNotBelieved() throws IOException {
    assertThat(report(record('d', "{\"status\":\"invalid\"}")).untrusted())
        .contains("status \"invalid\"");
    assertThat(report(record('d', "{\"status\":\"ok\"}{\"status\":\"error\"}")).untrusted())
        .contains("not a JSON object");
    assertThat(report(record('d', "[]")).isUntrusted()).isTrue();
  }

  @Test
  void aDoneRecordThatContradictsTheExitCodeIsNotBelieved() throws IOException {
    RunnerReport ok = report(record('d', "{\"status\":\"ok\"}"));
    assertThat(ok.against(0).isUntrusted()).isFalse();
    assertThat(ok.against(137).untrusted())
        .contains("says ok but the process exited with code 137");
    RunnerReport memory =
        report(
            record(
                'd',
                "{\"status\":\"error\",\"kind\":\"MemoryError\",\"message\":\"MemoryError\"}"));
    assertThat(memory.against(0).isUntrusted()).isTrue();
    assertThat(memory.against(1).kind()).isEqualTo("MemoryError");
    RunnerReport exit = report(record('d', "{\"status\":\"exit\",\"code\":3}"));
    assertThat(exit.against(3).isUntrusted()).isFalse();
    assertThat(exit.against(0).isUntrusted()).isTrue();
    assertThat(ok.against(null)).isEqualTo(ok);
  }

  @Test
  void noDoneRecordMeansNoReportAndNoResult() throws IOException {
    RunnerReport report = report(record('r', "1"));
    assertThat(report).isEqualTo(RunnerReport.NONE);
  }

  @Test
  void resultJsonWithTrailingDataOrDuplicateKeysIsNotAValue() throws IOException {
    assertThat(
            report(record('r', "1 2") + record('d', "{\"status\":\"ok\",\"resultBytes\":3}"))
                .resultProblem())
        .contains("not valid JSON");
    String duplicate = "{\"a\":1,\"a\":2}";
    assertThat(
            report(record('r', duplicate) + record('d', "{\"status\":\"ok\",\"resultBytes\":13}"))
                .resultProblem())
        .contains("not valid JSON");
  }

  private static RunnerReport report(String stdout) throws IOException {
    RunnerStreams streams = new RunnerStreams(NONCE, 1024);
    byte[] bytes = stdout.getBytes(StandardCharsets.UTF_8);
    // Byte by byte: the rules must not depend on how the stream was chunked.
    for (byte b : bytes) {
      streams.stdout().write(b);
    }
    streams.finish();
    return streams.report();
  }

  private static String record(char kind, String payload) {
    return "\u001eSBX1"
        + NONCE
        + kind
        + String.format("%04x", payload.getBytes(StandardCharsets.UTF_8).length)
        + payload;
  }
}
