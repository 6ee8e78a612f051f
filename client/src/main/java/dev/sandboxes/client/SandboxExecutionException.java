package dev.sandboxes.client;

/**
 * An execution that did not succeed; the subclass says why and {@link #result()} has the details.
 */
public class SandboxExecutionException extends RuntimeException {

  private static final long serialVersionUID = 1L;
  private final transient ExecutionResult result;

  public SandboxExecutionException(String message, ExecutionResult result) {
    super(message);
    this.result = result;
  }

  /** The finished execution (stdout, stderr, exit code), or null when it never ran. */
  public ExecutionResult result() {
    return result;
  }

  /** The code failed: non-zero exit, exception, out of memory, output over the limit. */
  public static final class CodeFailedException extends SandboxExecutionException {
    private static final long serialVersionUID = 1L;

    public CodeFailedException(String message, ExecutionResult result) {
      super(message, result);
    }
  }

  /** The code ran past its time limit and was killed. */
  public static final class TimedOutException extends SandboxExecutionException {
    private static final long serialVersionUID = 1L;

    public TimedOutException(String message, ExecutionResult result) {
      super(message, result);
    }
  }

  /**
   * The request was rejected: invalid spec, unknown provider. Fix the request, do not retry as is.
   */
  public static final class InvalidExecutionException extends SandboxExecutionException {
    private static final long serialVersionUID = 1L;

    public InvalidExecutionException(String message, ExecutionResult result) {
      super(message, result);
    }
  }

  /**
   * The sandbox or the operator failed, or no sandbox came in time; the code's own outcome is
   * unknown and it may be retried as a new execution.
   */
  public static final class SandboxUnavailableException extends SandboxExecutionException {
    private static final long serialVersionUID = 1L;

    public SandboxUnavailableException(String message, ExecutionResult result) {
      super(message, result);
    }
  }
}
