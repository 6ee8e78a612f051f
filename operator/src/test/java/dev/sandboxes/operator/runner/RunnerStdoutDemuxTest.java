package dev.sandboxes.operator.runner;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

@Tag("unit")
class RunnerStdoutDemuxTest {

  private static final String NONCE = "0123456789abcdef0123456789abcdef";

  private final ByteArrayOutputStream user = new ByteArrayOutputStream();
  private final StringBuilder results = new StringBuilder();
  private final StringBuilder done = new StringBuilder();
  private final RunnerStdoutDemux demux =
      new RunnerStdoutDemux(
          NONCE,
          user,
          (kind, bytes, offset, length) ->
              (kind == 'r' ? results : done)
                  .append(new String(bytes, offset, length, StandardCharsets.UTF_8)));

  @ParameterizedTest
  @ValueSource(ints = {1, 2, 7, 41, 42, 43, 4096})
  void separatesRecordsFromUserOutputWhateverTheChunking(int chunk) {
    String stream =
        "hello "
            + record('r', "{\"a\":")
            + " world\n"
            + record('r', "1}")
            + "tail"
            + record('d', "{\"status\":\"ok\"}");
    feed(stream, chunk);
    demux.close();
    assertThat(user.toString(StandardCharsets.UTF_8)).isEqualTo("hello  world\ntail");
    assertThat(results).hasToString("{\"a\":1}");
    assertThat(done).hasToString("{\"status\":\"ok\"}");
  }

  @Test
  void recordsWithAnotherNonceAreUserOutput() {
    String forged = "\u001eSBX1" + "f".repeat(32) + "r0002" + "42";
    feed(forged, 3);
    demux.close();
    assertThat(user.toString(StandardCharsets.UTF_8)).isEqualTo(forged);
    assertThat(results).isEmpty();
  }

  @Test
  void separatorsInUserOutputDoNotHideARealRecord() {
    // Stray separators and a partial magic right before a real record.
    String stream = "\u001e\u001eSB" + "\u001e" + record('r', "7") + "\u001e";
    feed(stream, 1);
    demux.close();
    assertThat(user.toString(StandardCharsets.UTF_8)).isEqualTo("\u001e\u001eSB\u001e\u001e");
    assertThat(results).hasToString("7");
  }

  @Test
  void badKindOrLengthMakesItUserOutput() {
    String stream = "\u001eSBX1" + NONCE + "x0001" + "z" + "\u001eSBX1" + NONCE + "r00G1" + "z";
    feed(stream, 5);
    demux.close();
    assertThat(user.toString(StandardCharsets.UTF_8)).isEqualTo(stream);
  }

  private static String record(char kind, String payload) {
    int length = payload.getBytes(StandardCharsets.UTF_8).length;
    return "\u001eSBX1" + NONCE + kind + String.format("%04x", length) + payload;
  }

  private void feed(String stream, int chunk) {
    byte[] bytes = stream.getBytes(StandardCharsets.UTF_8);
    for (int i = 0; i < bytes.length; i += chunk) {
      demux.write(bytes, i, Math.min(chunk, bytes.length - i));
    }
  }
}
