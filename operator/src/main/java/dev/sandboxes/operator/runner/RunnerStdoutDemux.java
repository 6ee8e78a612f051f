package dev.sandboxes.operator.runner;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Splits a sandbox's stdout into the user's output and the runner's framed records.
 *
 * <p>A record is {@code 0x1E "SBX1" <nonce> <kind> <4 hex length> <payload>} (see
 * docs/runner-protocol.md). Only records carrying this execution's nonce count; everything else,
 * including bytes that merely look like a record, is user output. The scan is streaming: it keeps
 * at most one header (42 bytes) in memory besides the capped record payloads.
 */
public final class RunnerStdoutDemux extends OutputStream {

  static final int HEADER_SIZE = 42;
  private static final byte RECORD_SEPARATOR = 0x1E;
  private static final byte[] MAGIC = "SBX1".getBytes(StandardCharsets.US_ASCII);

  private final byte[] expectedPrefix;
  private final OutputStream userOutput;
  private final RecordSink records;
  private final byte[] header = new byte[HEADER_SIZE];
  private int headerLength;
  private int payloadRemaining;
  private char payloadKind;

  /** Receives records in order: a begin for each record, then its payload bytes. */
  public interface RecordSink {
    /** A record of this kind and payload length starts (also for an empty payload). */
    default void begin(char kind, int length) {}

    void append(char kind, byte[] bytes, int offset, int length);

    /** The record of this kind has arrived whole (its payload, if any, was appended). */
    default void end(char kind) {}
  }

  public RunnerStdoutDemux(String nonce, OutputStream userOutput, RecordSink records) {
    byte[] nonceBytes = nonce.getBytes(StandardCharsets.US_ASCII);
    if (nonceBytes.length != 32) {
      throw new IllegalArgumentException("nonce must be 32 characters");
    }
    this.expectedPrefix = new byte[1 + MAGIC.length + nonceBytes.length];
    expectedPrefix[0] = RECORD_SEPARATOR;
    System.arraycopy(MAGIC, 0, expectedPrefix, 1, MAGIC.length);
    System.arraycopy(nonceBytes, 0, expectedPrefix, 1 + MAGIC.length, nonceBytes.length);
    this.userOutput = userOutput;
    this.records = records;
  }

  @Override
  public void write(int b) {
    write(new byte[] {(byte) b}, 0, 1);
  }

  @Override
  public void write(byte[] bytes, int offset, int length) {
    int position = offset;
    int end = offset + length;
    while (position < end) {
      if (payloadRemaining > 0) {
        int taken = Math.min(payloadRemaining, end - position);
        records.append(payloadKind, bytes, position, taken);
        payloadRemaining -= taken;
        position += taken;
        if (payloadRemaining == 0) {
          records.end(payloadKind);
        }
      } else if (headerLength > 0) {
        position = continueHeader(bytes, position, end);
      } else {
        int separator = indexOf(bytes, position, end, RECORD_SEPARATOR);
        int userEnd = separator < 0 ? end : separator;
        writeUser(bytes, position, userEnd - position);
        position = userEnd;
        if (separator >= 0) {
          header[0] = RECORD_SEPARATOR;
          headerLength = 1;
          position++;
        }
      }
    }
  }

  private int continueHeader(byte[] bytes, int position, int end) {
    while (position < end && headerLength < HEADER_SIZE) {
      byte next = bytes[position];
      if (headerLength < expectedPrefix.length && next != expectedPrefix[headerLength]) {
        rejectHeader();
        return position;
      }
      header[headerLength++] = next;
      position++;
    }
    if (headerLength == HEADER_SIZE) {
      acceptOrRejectHeader();
    }
    return position;
  }

  private void acceptOrRejectHeader() {
    char kind = (char) header[expectedPrefix.length];
    int length = parseHex(header, expectedPrefix.length + 1, 4);
    if ((kind == 'r' || kind == 'd' || kind == 'a' || kind == 'b' || kind == 't') && length >= 0) {
      records.begin(kind, length);
      payloadKind = kind;
      payloadRemaining = length;
      headerLength = 0;
      if (length == 0) {
        records.end(kind);
      }
    } else {
      rejectHeader();
    }
  }

  /**
   * Not a record after all: the first byte is user output and the rest is scanned again, since a
   * real record may start inside it.
   */
  private void rejectHeader() {
    byte[] pending = new byte[headerLength];
    System.arraycopy(header, 0, pending, 0, headerLength);
    headerLength = 0;
    writeUser(pending, 0, 1);
    write(pending, 1, pending.length - 1);
  }

  /** End of stream: an unfinished header was user output. */
  @Override
  public void close() {
    if (headerLength > 0) {
      int pending = headerLength;
      headerLength = 0;
      writeUser(header, 0, pending);
    }
  }

  private void writeUser(byte[] bytes, int offset, int length) {
    if (length <= 0) {
      return;
    }
    try {
      userOutput.write(bytes, offset, length);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static int indexOf(byte[] bytes, int from, int to, byte value) {
    for (int i = from; i < to; i++) {
      if (bytes[i] == value) {
        return i;
      }
    }
    return -1;
  }

  private static int parseHex(byte[] bytes, int offset, int digits) {
    int value = 0;
    for (int i = offset; i < offset + digits; i++) {
      int digit = Character.digit(bytes[i], 16);
      if (digit < 0 || Character.isUpperCase(bytes[i])) {
        return -1;
      }
      value = value * 16 + digit;
    }
    return value;
  }

  /** A capped byte collector for record payloads. */
  static final class BoundedBytes {
    private final int limit;
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private long total;

    BoundedBytes(int limit) {
      this.limit = limit;
    }

    void append(byte[] data, int offset, int length) {
      total += length;
      int room = (int) Math.max(0, limit - bytes.size());
      bytes.write(data, offset, Math.min(room, length));
    }

    boolean overflowed() {
      return total > limit;
    }

    long total() {
      return total;
    }

    byte[] toByteArray() {
      return bytes.toByteArray();
    }
  }
}
