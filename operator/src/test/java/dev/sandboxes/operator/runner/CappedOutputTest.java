package dev.sandboxes.operator.runner;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class CappedOutputTest {

  @Test
  void keepsEverythingUnderTheCap() {
    CappedOutput output = new CappedOutput(16);
    write(output, "hello");
    assertThat(output.capture()).isEqualTo(new StreamCapture("hello", 5, false));
  }

  @Test
  void countsAllBytesButKeepsOnlyTheCap() {
    CappedOutput output = new CappedOutput(4);
    for (int i = 0; i < 1000; i++) {
      write(output, "abcdefghij");
    }
    assertThat(output.capture()).isEqualTo(new StreamCapture("abcd", 10_000, true));
  }

  @Test
  void neverSplitsAMultiByteCharacter() {
    // "é" is 2 bytes, "世" 3, "🚀" 4: a cap inside any of them drops the whole character.
    assertThat(capped("aé", 2)).isEqualTo("a");
    assertThat(capped("a世", 3)).isEqualTo("a");
    assertThat(capped("a世", 2)).isEqualTo("a");
    assertThat(capped("a🚀", 4)).isEqualTo("a");
    assertThat(capped("a🚀", 5)).isEqualTo("a🚀");
    assertThat(capped("世世", 5)).isEqualTo("世");
  }

  @Test
  void invalidBytesBecomeReplacementCharactersWithinTheCap() {
    CappedOutput output = new CappedOutput(6);
    byte[] binary = {(byte) 0xff, (byte) 0xfe, (byte) 0xfd, (byte) 0xfc, (byte) 0xfb, (byte) 0xfa};
    output.write(binary, 0, binary.length);
    String text = output.text();
    // Six invalid bytes would be six 3-byte replacement characters; only two fit in 6 bytes.
    assertThat(text).isEqualTo("\uFFFD\uFFFD");
    assertThat(text.getBytes(StandardCharsets.UTF_8)).hasSizeLessThanOrEqualTo(6);
  }

  @Test
  void zeroCapKeepsNothing() {
    CappedOutput output = new CappedOutput(0);
    write(output, "x");
    assertThat(output.capture()).isEqualTo(new StreamCapture("", 1, true));
  }

  private static String capped(String text, int cap) {
    CappedOutput output = new CappedOutput(cap);
    write(output, text);
    return output.text();
  }

  private static void write(CappedOutput output, String text) {
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    output.write(bytes, 0, bytes.length);
  }
}
