package dev.sandboxes.operator.backend.selfmanaged;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;

/**
 * The output sink of a pre-started runner: the runner's exec is opened before anyone knows which
 * execution it will serve (and so before its capped sinks exist). What arrives before then (a
 * runner writes nothing before its envelope; an interpreter warning might) is kept up to a small
 * cap and handed over when the execution attaches its sink.
 */
final class DeferredSink extends OutputStream {

  /**
   * Bytes kept before the execution attaches; more are dropped (nothing legitimate writes that
   * much).
   */
  static final int EARLY_BYTES_KEPT = 8192;

  private ByteArrayOutputStream early = new ByteArrayOutputStream();
  private OutputStream target;

  @Override
  public synchronized void write(int b) throws IOException {
    write(new byte[] {(byte) b}, 0, 1);
  }

  @Override
  public synchronized void write(byte[] bytes, int offset, int length) throws IOException {
    if (target != null) {
      target.write(bytes, offset, length);
    } else {
      early.write(bytes, offset, Math.min(length, Math.max(0, EARLY_BYTES_KEPT - early.size())));
    }
  }

  /** Sends what arrived so far to the target, then everything from now on. */
  synchronized void attach(OutputStream sink) throws IOException {
    sink.write(early.toByteArray());
    early = null;
    target = sink;
  }
}
