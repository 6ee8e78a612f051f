package dev.sandboxes.operator.backend.selfmanaged;

import java.io.OutputStream;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Runs a command in a pod's container through the exec API. An interface so that tests can script
 * the exec (the CRUD mock server has no kubelet behind it).
 */
public interface PodExec {

  /**
   * Starts the command, writes {@code stdin} to it (and leaves stdin open, as the runner expects),
   * and streams its stdout and stderr into the sinks, each from one thread at a time.
   */
  Running start(
      String namespace,
      String pod,
      String container,
      List<String> command,
      byte[] stdin,
      OutputStream stdout,
      OutputStream stderr);

  /**
   * Starts the command now with its stdin still empty: a pre-started runner loads its interpreter
   * and waits for the envelope, which {@link Waiting#send} writes later. The default defers the
   * whole exec to {@code send} (scripted execs in tests); the exec API opens it at once.
   */
  default Waiting open(
      String namespace,
      String pod,
      String container,
      List<String> command,
      OutputStream stdout,
      OutputStream stderr) {
    PodExec self = this;
    return new Waiting() {
      private volatile boolean closed;

      @Override
      public boolean alive() {
        return !closed;
      }

      @Override
      public Running send(byte[] stdin) {
        return self.start(namespace, pod, container, command, stdin, stdout, stderr);
      }

      @Override
      public void close() {
        closed = true;
      }
    };
  }

  /** A command started without input, waiting for it. */
  interface Waiting extends AutoCloseable {

    /** Whether the command's stream is still open: false once it ended or broke. */
    boolean alive();

    /**
     * Writes stdin (and leaves it open) and returns the exec in progress; a failed write completes
     * its exit code exceptionally ({@link StreamBrokenException}). Called at most once.
     */
    Running send(byte[] stdin);

    /** Abandons the command before any input reached it. */
    @Override
    void close();
  }

  /** An exec in progress. */
  interface Running extends AutoCloseable {

    /**
     * Completes with the exit code once every byte of output reached the sinks; completes
     * exceptionally ({@link StreamBrokenException}) when the stream broke or ended without one.
     */
    CompletableFuture<Integer> exitCode();

    /** Abandons the exec; the command may go on until its pod is deleted. */
    @Override
    void close();
  }

  /** The exec stream broke, or ended without an exit status. */
  final class StreamBrokenException extends RuntimeException {
    public StreamBrokenException(String message, Throwable cause) {
      super(message, cause);
    }
  }
}
