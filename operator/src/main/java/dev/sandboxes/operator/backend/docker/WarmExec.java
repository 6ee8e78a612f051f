package dev.sandboxes.operator.backend.docker;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.async.ResultCallback;
import com.github.dockerjava.api.model.Frame;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * A runner exec'd into an idle container as soon as the container started: created and started with
 * stdin attached, it loads its interpreter, forks (Python) and waits on stdin. The execution that
 * claims the container attaches its sink and hands over the envelope, which is then the only thing
 * sent on the hot path. Frames that arrive before the sink is attached (a runner writes nothing
 * before its envelope) are kept, a few at most, and replayed.
 */
final class WarmExec extends ResultCallback.Adapter<Frame> {

  private static final int EARLY_FRAMES_KEPT = 16;

  private final String execId;
  private final EnvelopeInput input = new EnvelopeInput();
  private final List<Frame> early = new ArrayList<>();
  private ResultCallback.Adapter<Frame> target;
  private volatile boolean ended;
  private volatile Throwable error;

  private WarmExec(String execId) {
    this.execId = execId;
  }

  /**
   * Creates the exec and starts it attached; the runner runs from now on, waiting for its envelope.
   */
  static WarmExec open(DockerClient client, String containerId, List<String> command) {
    String execId =
        client
            .execCreateCmd(containerId)
            .withAttachStdin(true)
            .withAttachStdout(true)
            .withAttachStderr(true)
            .withCmd(command.toArray(String[]::new))
            .exec()
            .getId();
    WarmExec warm = new WarmExec(execId);
    client.execStartCmd(execId).withDetach(false).withTty(false).withStdIn(warm.input).exec(warm);
    return warm;
  }

  String execId() {
    return execId;
  }

  /** Whether the exec's stream is still open: false once it ended or broke. */
  boolean alive() {
    return !ended;
  }

  /** The stream's failure, if it broke. */
  Throwable error() {
    return error;
  }

  /** Routes the frames so far, and every later one, to the execution's sink. */
  synchronized void attach(ResultCallback.Adapter<Frame> sink) {
    early.forEach(sink::onNext);
    early.clear();
    target = sink;
  }

  /** Hands the envelope to the runner's stdin, which then ends (the runner reads one line). */
  void send(byte[] envelope) {
    input.provide(envelope);
  }

  @Override
  public synchronized void onNext(Frame frame) {
    if (target != null) {
      target.onNext(frame);
    } else if (early.size() < EARLY_FRAMES_KEPT) {
      early.add(frame);
    }
  }

  @Override
  public void onError(Throwable throwable) {
    error = throwable;
    ended = true;
    super.onError(throwable);
  }

  @Override
  public void onComplete() {
    ended = true;
    super.onComplete();
  }

  /** Abandons the runner before any envelope reached it (its container is being removed). */
  @Override
  public void close() {
    input.close();
    ended = true;
    try {
      super.close();
    } catch (IOException | RuntimeException e) {
      // abandoned
    }
  }

  /** Stdin that blocks until the envelope is provided, then delivers it and ends. */
  private static final class EnvelopeInput extends InputStream {
    private byte[] data;
    private int position;
    private boolean closed;

    synchronized void provide(byte[] envelope) {
      data = envelope;
      notifyAll();
    }

    @Override
    public synchronized int read() throws IOException {
      byte[] one = new byte[1];
      return read(one, 0, 1) < 0 ? -1 : one[0] & 0xFF;
    }

    @Override
    public synchronized int read(byte[] buffer, int offset, int length) throws IOException {
      while (data == null && !closed) {
        try {
          wait();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return -1;
        }
      }
      if (data == null || position >= data.length || length == 0) {
        return data == null || position >= data.length ? -1 : 0;
      }
      int count = Math.min(length, data.length - position);
      System.arraycopy(data, position, buffer, offset, count);
      position += count;
      return count;
    }

    @Override
    public synchronized void close() {
      closed = true;
      notifyAll();
    }
  }
}
