package dev.sandboxes.operator.runner;

import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * One output stream of an execution: keeps the first {@code capBytes} bytes, counts the rest
 * without storing it, and turns what it kept into UTF-8 text that never splits a character.
 *
 * <p>Thread-confined: each stream is written by one reader thread.
 */
public final class CappedOutput extends OutputStream {

  private final int capBytes;
  private byte[] kept = new byte[256];
  private int keptLength;
  private long totalBytes;

  public CappedOutput(int capBytes) {
    if (capBytes < 0) {
      throw new IllegalArgumentException("capBytes must not be negative");
    }
    this.capBytes = capBytes;
  }

  @Override
  public void write(int b) {
    write(new byte[] {(byte) b}, 0, 1);
  }

  @Override
  public void write(byte[] bytes, int offset, int length) {
    totalBytes += length;
    int room = capBytes - keptLength;
    if (room <= 0) {
      return;
    }
    int taken = Math.min(room, length);
    ensureCapacity(keptLength + taken);
    System.arraycopy(bytes, offset, kept, keptLength, taken);
    keptLength += taken;
  }

  private void ensureCapacity(int needed) {
    if (needed > kept.length) {
      int grown = Math.min(capBytes, Math.max(needed, kept.length * 2));
      byte[] larger = new byte[grown];
      System.arraycopy(kept, 0, larger, 0, keptLength);
      kept = larger;
    }
  }

  /** All bytes written, kept or not. */
  public long totalBytes() {
    return totalBytes;
  }

  /** Whether bytes were dropped at the cap. */
  public boolean truncated() {
    return totalBytes > capBytes;
  }

  /** An immutable snapshot: the kept text, the full byte count and the truncation flag. */
  public StreamCapture capture() {
    return new StreamCapture(text(), totalBytes, truncated());
  }

  /**
   * The kept bytes as text. A character cut by the cap is dropped whole; invalid UTF-8 (binary
   * output) becomes U+FFFD; the UTF-8 size of the text never exceeds the cap.
   */
  public String text() {
    int end = truncated() ? completeSequencesEnd(kept, keptLength) : keptLength;
    String text = decodeReplacing(kept, end);
    return limitUtf8(text, capBytes);
  }

  /** Where the last complete UTF-8 sequence ends, ignoring a sequence the cut left unfinished. */
  static int completeSequencesEnd(byte[] bytes, int length) {
    int start = length - 1;
    // Walk back over at most three continuation bytes to the lead byte of the last sequence.
    while (start >= 0 && length - start <= 3 && (bytes[start] & 0xC0) == 0x80) {
      start--;
    }
    if (start < 0) {
      return length;
    }
    int lead = bytes[start] & 0xFF;
    int expected = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    return length - start < expected ? start : length;
  }

  private static String decodeReplacing(byte[] bytes, int length) {
    CharsetDecoder decoder =
        StandardCharsets.UTF_8
            .newDecoder()
            .onMalformedInput(CodingErrorAction.REPLACE)
            .onUnmappableCharacter(CodingErrorAction.REPLACE);
    try {
      CharBuffer chars = decoder.decode(ByteBuffer.wrap(bytes, 0, length));
      return chars.toString();
    } catch (CharacterCodingException impossibleWithReplace) {
      throw new IllegalStateException(impossibleWithReplace);
    }
  }

  /** Cuts text so its UTF-8 encoding fits in maxBytes (replacement characters take 3 bytes). */
  static String limitUtf8(String text, int maxBytes) {
    if (text.length() * 3L <= maxBytes) {
      return text;
    }
    int bytes = 0;
    int index = 0;
    while (index < text.length()) {
      int codePoint = text.codePointAt(index);
      int size = codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4;
      if (bytes + size > maxBytes) {
        break;
      }
      bytes += size;
      index += Character.charCount(codePoint);
    }
    return text.substring(0, index);
  }
}
