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
      String namespace, String pod, String container, List<String> command, byte[] stdin,
      OutputStream stdout, OutputStream stderr);

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
