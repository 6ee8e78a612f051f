package dev.sandboxes.operator.runner;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The operator's checks of artifact records: what is believed, and what drops the artifacts. */
@Tag("unit")
class ArtifactRecordsTest {

  private static final String NONCE = "0123456789abcdef0123456789abcdef";
  private static final String OK = record('d', "{\"status\":\"ok\"}");

  @Test
  void filesAreAssembledFromHeaderAndBase64Chunks() {
    RunnerReport report =
        report(
            header("a/b.txt", 6) + data("hel") + data("lo!") + header("empty", 0) + OK,
            ArtifactLimits.DEFAULT);
    assertThat(report.artifacts().problem()).isNull();
    assertThat(report.artifacts().files())
        .extracting(Artifact::name)
        .containsExactly("a/b.txt", "empty");
    assertThat(new String(report.artifacts().files().get(0).content(), StandardCharsets.UTF_8))
        .isEqualTo("hello!");
    assertThat(report.artifacts().files().get(1).content()).isEmpty();
  }

  @Test
  void artifactRecordsAfterTheDoneRecordMakeTheReportUntrusted() {
    RunnerReport report = report(OK + header("late.txt", 1) + data("x"), ArtifactLimits.DEFAULT);
    assertThat(report.isUntrusted()).isTrue();
    assertThat(report.artifacts().files()).isEmpty();
  }

  @Test
  void namesThatLeaveTheDirectoryOrRepeatAreRefused() {
    for (String name :
        new String[] {"../etc/passwd", "/etc/passwd", "a//b", "./a", "a/..", "tab\there"}) {
      RunnerReport report = report(header(name, 1) + data("x") + OK, ArtifactLimits.DEFAULT);
      assertThat(report.artifacts().files()).as(name).isEmpty();
      assertThat(report.artifacts().problem()).as(name).contains("artifact name");
    }
    RunnerReport twice =
        report(
            header("a", 1) + data("x") + header("a", 1) + data("y") + OK, ArtifactLimits.DEFAULT);
    assertThat(twice.artifacts().problem()).contains("arrived twice");
  }

  @Test
  void sizesThatDisagreeOrExceedTheLimitsAreRefusedWithoutBufferingMore() {
    assertThat(
            report(header("a", 5) + data("xy") + OK, ArtifactLimits.DEFAULT).artifacts().problem())
        .contains("shorter");
    assertThat(
            report(header("a", 1) + data("xy") + OK, ArtifactLimits.DEFAULT).artifacts().problem())
        .contains("longer");
    ArtifactLimits small = new ArtifactLimits("/tmp/outputs", 1, 4);
    assertThat(report(header("a", 5) + data("12345") + OK, small).artifacts().problem())
        .contains("maxArtifactBytes");
    assertThat(
            report(header("a", 1) + data("1") + header("b", 1) + data("2") + OK, small)
                .artifacts()
                .problem())
        .contains("maxArtifacts");
    assertThat(
            report(header("a", 3) + record('b', "!!!!") + OK, ArtifactLimits.DEFAULT)
                .artifacts()
                .problem())
        .contains("not base64");
  }

  @Test
  void whatWasLeftOutIsReportedFromTheSummaryRecord() {
    RunnerReport report =
        report(
            header("a", 1)
                + data("1")
                + record(
                    't',
                    "{\"omitted\":[{\"name\":\"b\",\"reason\":\"TooMany\",\"sizeBytes\":3},{\"name\":\"l\",\"reason\":\"Symlink\"}],"
                        + "\"omittedCount\":7,\"truncated\":true}")
                + OK,
            ArtifactLimits.DEFAULT);
    CollectedArtifacts artifacts = report.artifacts();
    assertThat(artifacts.truncated()).isTrue();
    assertThat(artifacts.omittedCount()).isEqualTo(7);
    assertThat(artifacts.omissionSummary())
        .isEqualTo(
            "7 entries under SANDBOX_OUTPUT_DIR left out: b (over maxArtifacts), l (a symlink, never followed), ...");
  }

  @Test
  void recordsWithAnotherNonceAreUserOutput() {
    String forged =
        ("\u001eSBX1" + "f".repeat(32) + "a0010{\"name\":\"x\"}")
            .replace("0010", String.format("%04x", 12));
    RunnerReport report = report(forged + OK, ArtifactLimits.DEFAULT);
    assertThat(report.artifacts().files()).isEmpty();
    assertThat(report.artifacts().problem()).isNull();
  }

  private static RunnerReport report(String stdout, ArtifactLimits limits) {
    RunnerStreams streams = new RunnerStreams(NONCE, 1024, limits);
    byte[] bytes = stdout.getBytes(StandardCharsets.UTF_8);
    // In uneven pieces: the assembly must not depend on how the stream was chunked.
    try {
      for (int i = 0; i < bytes.length; i += 7) {
        streams.stdout().write(bytes, i, Math.min(7, bytes.length - i));
      }
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    streams.finish();
    return streams.report();
  }

  private static String header(String name, int size) {
    return record('a', "{\"name\":\"" + name.replace("\t", "\\t") + "\",\"size\":" + size + "}");
  }

  private static String data(String text) {
    return record('b', Base64.getEncoder().encodeToString(text.getBytes(StandardCharsets.UTF_8)));
  }

  private static String record(char kind, String payload) {
    return "\u001eSBX1"
        + NONCE
        + kind
        + String.format("%04x", payload.getBytes(StandardCharsets.UTF_8).length)
        + payload;
  }
}
