package dev.sandboxes.operator.backend.selfmanaged;

import java.io.IOException;
import java.io.OutputStream;

/**
 * An output sink that can be shut: an abandoned exec (deadline, cancellation) may still deliver
 * bytes from another thread, and the capped sinks behind must not see them after they are read.
 */
final class GatedSink extends OutputStream {

  private final OutputStream target;
  private boolean shut;

  GatedSink(OutputStream target) {
    this.target = target;
  }

  @Override
  public synchronized void write(int b) throws IOException {
    if (!shut) {
      target.write(b);
    }
  }

  @Override
  public synchronized void write(byte[] bytes, int offset, int length) throws IOException {
    if (!shut) {
      target.write(bytes, offset, length);
    }
  }

  /** Drops everything written from now on. */
  synchronized void shut() {
    shut = true;
  }
}
