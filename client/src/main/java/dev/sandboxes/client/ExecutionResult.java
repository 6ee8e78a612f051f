package dev.sandboxes.client;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.List;

/**
 * The outcome of one execution, typed: what a CodeExecution's status says once it finished.
 *
 * @param name the CodeExecution's name
 * @param succeeded whether the Succeeded condition is True
 * @param reason the Succeeded condition's reason: Completed, UserCodeError, TimedOut, ...
 * @param message one sentence: what happened and what to do
 * @param exitCode the program's exit code, when it exited
 * @param result the entrypoint's return value (null when absent)
 * @param duration time spent running
 * @param artifacts the files the code left under SANDBOX_OUTPUT_DIR, with their bytes
 */
public record ExecutionResult(
    String name,
    boolean succeeded,
    String reason,
    String message,
    Integer exitCode,
    String stdout,
    String stderr,
    long stdoutBytes,
    long stderrBytes,
    boolean stdoutTruncated,
    boolean stderrTruncated,
    JsonNode result,
    String sandboxId,
    Duration duration,
    List<ExecutionArtifact> artifacts) {

  public ExecutionResult {
    artifacts = artifacts == null ? List.of() : List.copyOf(artifacts);
  }

  /** A result without artifacts. */
  public ExecutionResult(
      String name,
      boolean succeeded,
      String reason,
      String message,
      Integer exitCode,
      String stdout,
      String stderr,
      long stdoutBytes,
      long stderrBytes,
      boolean stdoutTruncated,
      boolean stderrTruncated,
      JsonNode result,
      String sandboxId,
      Duration duration) {
    this(
        name,
        succeeded,
        reason,
        message,
        exitCode,
        stdout,
        stderr,
        stdoutBytes,
        stderrBytes,
        stdoutTruncated,
        stderrTruncated,
        result,
        sandboxId,
        duration,
        List.of());
  }
}
