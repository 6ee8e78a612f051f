package dev.sandboxes.operator.runner;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * What the runner reported besides the user's output: whether the code finished, how, and the
 * entrypoint's return value.
 *
 * @param status {@code ok}, {@code error}, {@code exit} (SystemExit), or null when the process
 *     ended without a done record (killed, {@code os._exit}, {@code process.exit})
 * @param kind for errors: EntrypointNotFound, EntrypointNotCallable, SyntaxError, Exception,
 *     MemoryError, ResultNotSerializable
 * @param message one line describing the error, from the runner
 * @param result the return value (null when absent or JSON null)
 * @param resultProblem why a result could not be used (too large, not JSON), or null
 */
public record RunnerReport(
    String status, String kind, String message, JsonNode result, String resultProblem) {

  /** No done record arrived. */
  public static final RunnerReport NONE = new RunnerReport(null, null, null, null, null);

  /** Whether a done record arrived. */
  public boolean finished() {
    return status != null;
  }

  /** Whether the runner reported an error in the user's code. */
  public boolean isError() {
    return "error".equals(status);
  }
}
