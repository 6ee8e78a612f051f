package dev.sandboxes.operator.runner;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * What the runner reported besides the user's output: whether the code finished, how, and the
 * entrypoint's return value. A report whose records contradict each other or the exit code is
 * {@linkplain #untrusted() untrusted}: none of it is believed.
 *
 * @param status {@code ok}, {@code error}, {@code exit} (the code ended the process itself), or
 *     null when no believable done record arrived (killed, {@code os._exit}, contradictions)
 * @param kind for errors: EntrypointNotFound, EntrypointNotCallable, SyntaxError, Exception,
 *     MemoryError, ResultNotSerializable, NeverSettled
 * @param message one line describing the error, from the runner
 * @param result the return value (null when absent or JSON null)
 * @param resultProblem why a result could not be used (too large, not JSON), or null
 * @param exitCode for status {@code exit}: the exit code the runner saw, or null
 * @param untrusted why the records cannot be believed, or null when they can
 * @param artifacts the files the runner sent from the output directory (none when untrusted)
 */
public record RunnerReport(
    String status,
    String kind,
    String message,
    JsonNode result,
    String resultProblem,
    Integer exitCode,
    String untrusted,
    CollectedArtifacts artifacts) {

  /** No done record arrived. */
  public static final RunnerReport NONE =
      new RunnerReport(null, null, null, null, null, null, null);

  public RunnerReport {
    if (artifacts == null) {
      artifacts = CollectedArtifacts.NONE;
    }
  }

  /** A report without artifacts. */
  public RunnerReport(
      String status,
      String kind,
      String message,
      JsonNode result,
      String resultProblem,
      Integer exitCode,
      String untrusted) {
    this(
        status, kind, message, result, resultProblem, exitCode, untrusted, CollectedArtifacts.NONE);
  }

  /** A report without an exit code in its done record, believed. */
  public RunnerReport(
      String status, String kind, String message, JsonNode result, String resultProblem) {
    this(status, kind, message, result, resultProblem, null, null);
  }

  /** Records that cannot be believed: no status, no result, only the reason. */
  public static RunnerReport untrusted(String why) {
    return new RunnerReport(null, null, null, null, null, null, why);
  }

  /** Whether a believable done record arrived. */
  public boolean finished() {
    return status != null;
  }

  /** Whether the runner reported an error in the user's code. */
  public boolean isError() {
    return "error".equals(status);
  }

  /** Whether the records contradicted each other or the exit code. */
  public boolean isUntrusted() {
    return untrusted != null;
  }

  /**
   * The exit code the runner ends with after this done record: 0 after {@code ok}, 1 after {@code
   * error}, the recorded code after {@code exit}; null without a believable record.
   */
  public Integer impliedExitCode() {
    if (!finished()) {
      return null;
    }
    return switch (status) {
      case "ok" -> 0;
      case "error" -> 1;
      default -> exitCode;
    };
  }

  /**
   * This report checked against the exit code the backend observed: the runner exits 0 after {@code
   * ok}, 1 after {@code error} and with the recorded code after {@code exit}. Anything else means
   * the records did not come from the runner's own ending (code in the sandbox wrote them, or ended
   * the process after they were written), so they are not believed.
   */
  public RunnerReport against(Integer processExitCode) {
    if (!finished() || processExitCode == null) {
      return this;
    }
    int expected;
    switch (status) {
      case "ok" -> expected = 0;
      case "error" -> expected = 1;
      default -> expected = exitCode == null ? processExitCode : exitCode;
    }
    if (expected != processExitCode) {
      return untrusted(
          "the done record says "
              + status
              + (exitCode == null ? "" : " " + exitCode)
              + " but the process exited with code "
              + processExitCode);
    }
    return this;
  }
}
