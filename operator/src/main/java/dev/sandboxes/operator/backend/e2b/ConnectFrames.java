package dev.sandboxes.operator.backend.e2b;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;

/**
 * Connect protocol streaming envelopes: one flag byte, a 4-byte big-endian length, the message.
 * Flag 0x02 marks the end-of-stream message (a JSON object that may carry an error); 0x01 would be
 * compression, which this client never asks for.
 */
final class ConnectFrames {

  static final int FLAG_COMPRESSED = 0x01;
  static final int FLAG_END_STREAM = 0x02;

  /** Largest message accepted; envd sends output in chunks far below this. */
  static final int MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

  /** One envelope. */
  record Frame(int flags, byte[] message) {
    boolean endOfStream() {
      return (flags & FLAG_END_STREAM) != 0;
    }
  }

  /** A stream that breaks the framing rules; the stream cannot be trusted any further. */
  static final class ProtocolException extends IOException {
    ProtocolException(String message) {
      super(message);
    }
  }

  private ConnectFrames() {}

  /** The envelope of one request message. */
  static byte[] encode(byte[] message) {
    return ByteBuffer.allocate(5 + message.length)
        .put((byte) 0)
        .putInt(message.length)
        .put(message)
        .array();
  }

  /**
   * The next envelope, or null when the stream ended cleanly between envelopes. Reads exactly one
   * message, so memory stays bounded by {@link #MAX_MESSAGE_BYTES}.
   */
  static Frame read(InputStream in) throws IOException {
    int flags = in.read();
    if (flags < 0) {
      return null;
    }
    byte[] header = in.readNBytes(4);
    if (header.length < 4) {
      throw new EOFException("the stream ended inside an envelope header");
    }
    long length = ByteBuffer.wrap(header).getInt() & 0xffffffffL;
    if (length > MAX_MESSAGE_BYTES) {
      throw new ProtocolException(
          "an envelope announces "
              + length
              + " bytes; at most "
              + MAX_MESSAGE_BYTES
              + " are accepted");
    }
    if ((flags & FLAG_COMPRESSED) != 0) {
      throw new ProtocolException(
          "the server sent a compressed envelope, which was not negotiated");
    }
    byte[] message = in.readNBytes((int) length);
    if (message.length < length) {
      throw new EOFException(
          "the stream ended inside an envelope (" + message.length + " of " + length + " bytes)");
    }
    return new Frame(flags, message);
  }
}
