package dev.sandboxes.operator.backend.e2b;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Connect streaming envelopes as envd sends them, and every way a stream can break them. */
@Tag("unit")
class ConnectFramesTest {

  @Test
  void readsDataEnvelopesThenTheEndOfStreamMessageThenACleanEnd() throws Exception {
    ByteArrayOutputStream stream = new ByteArrayOutputStream();
    stream.write(ConnectFrames.encode(bytes("{\"event\":{\"start\":{\"pid\":7}}}")));
    stream.write(envelope(0x02, "{\"error\":{\"code\":\"deadline_exceeded\"}}"));
    ByteArrayInputStream in = new ByteArrayInputStream(stream.toByteArray());

    ConnectFrames.Frame first = ConnectFrames.read(in);
    ConnectFrames.Frame last = ConnectFrames.read(in);

    assertThat(first.endOfStream()).isFalse();
    assertThat(new String(first.message(), StandardCharsets.UTF_8))
        .isEqualTo("{\"event\":{\"start\":{\"pid\":7}}}");
    assertThat(last.endOfStream()).isTrue();
    assertThat(new String(last.message(), StandardCharsets.UTF_8)).contains("deadline_exceeded");
    assertThat(ConnectFrames.read(in)).isNull();
  }

  @Test
  void anEmptyMessageIsAllowed() throws Exception {
    ConnectFrames.Frame frame = ConnectFrames.read(new ByteArrayInputStream(envelope(0x02, "")));
    assertThat(frame.message()).isEmpty();
  }

  @Test
  void aStreamCutInsideAnEnvelopeIsAnError() {
    byte[] whole = ConnectFrames.encode(bytes("{\"event\":{\"keepalive\":{}}}"));
    assertThatThrownBy(() -> ConnectFrames.read(new ByteArrayInputStream(Arrays.copyOf(whole, 3))))
        .isInstanceOf(EOFException.class)
        .hasMessageContaining("header");
    assertThatThrownBy(
            () ->
                ConnectFrames.read(
                    new ByteArrayInputStream(Arrays.copyOf(whole, whole.length - 1))))
        .isInstanceOf(EOFException.class)
        .hasMessageContaining("inside an envelope");
  }

  @Test
  void oversizedAndCompressedEnvelopesAreRefusedBeforeTheyAreRead() {
    byte[] huge =
        ByteBuffer.allocate(5).put((byte) 0).putInt(ConnectFrames.MAX_MESSAGE_BYTES + 1).array();
    assertThatThrownBy(() -> ConnectFrames.read(new ByteArrayInputStream(huge)))
        .isInstanceOf(ConnectFrames.ProtocolException.class)
        .hasMessageContaining("at most");
    assertThatThrownBy(() -> ConnectFrames.read(new ByteArrayInputStream(envelope(0x01, "x"))))
        .isInstanceOf(ConnectFrames.ProtocolException.class)
        .hasMessageContaining("compressed");
  }

  @Test
  void signalStatusesFromEnvdMapToSignalNumbers() {
    assertThat(ProcessSignals.number("signal: killed")).isEqualTo(9);
    assertThat(ProcessSignals.number("signal: segmentation fault (core dumped)")).isEqualTo(11);
    assertThat(ProcessSignals.number("signal: terminated")).isEqualTo(15);
    assertThat(ProcessSignals.number("exit status 1")).isNull();
    assertThat(ProcessSignals.number("signal: something new")).isNull();
  }

  private static byte[] envelope(int flags, String json) {
    byte[] message = bytes(json);
    return ByteBuffer.allocate(5 + message.length)
        .put((byte) flags)
        .putInt(message.length)
        .put(message)
        .array();
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }
}
