package dev.sandboxes.client;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;

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
    Duration duration) {}
