package dev.sandboxes.api.v1alpha1;

import static dev.sandboxes.api.v1alpha1.Reason.Use.CONDITION;
import static dev.sandboxes.api.v1alpha1.Reason.Use.EVENT;

import java.util.Arrays;
import java.util.Optional;

/** Every reason of a CodeExecution's conditions and events, each with its API spelling. */
public enum CodeExecutionReason implements Reason {

  // ---- Accepted ----

  /** Accepted True: valid spec, provider resolved. */
  VALID("Valid", CONDITION),
  /** The spec is invalid; the message names the field. Final. */
  INVALID_SPEC("InvalidSpec", CONDITION, EVENT),
  /**
   * The referenced or default provider does not exist; the execution waits for it until
   * spec.admissionTimeoutSeconds.
   */
  PROVIDER_NOT_FOUND("ProviderNotFound", CONDITION, EVENT),
  /** The provider exists but is not Ready; the execution waits as for ProviderNotFound. */
  PROVIDER_NOT_READY("ProviderNotReady", CONDITION, EVENT),
  /** A ConfigMap, Secret or key named by codeFrom or argumentsFrom does not exist (yet). */
  REFERENCE_NOT_FOUND("ReferenceNotFound", CONDITION, EVENT),
  /**
   * A Secret named by codeFrom.secretKeyRef or argumentsFrom.secretKeyRef exists but does not carry
   * the label sandboxes.dev/execution-input: "true", so the operator refuses to read it for the
   * execution. Final: the execution never starts; label the Secret and create a new execution.
   */
  SECRET_NOT_ALLOWED("SecretNotAllowed", CONDITION, EVENT),
  /**
   * A ConfigMap named by argumentsFrom.configMapKeyRef exists but does not carry the label
   * sandboxes.dev/execution-input: "true" (the rule of {@link #SECRET_NOT_ALLOWED}, since arguments
   * can come back as the result). Final: label the ConfigMap and create a new execution.
   */
  CONFIG_MAP_NOT_ALLOWED("ConfigMapNotAllowed", CONDITION, EVENT),

  // ---- Started and Succeeded while running ----

  /** Accepted, waiting for a free sandbox or a concurrency slot. */
  WAITING_FOR_SANDBOX("WaitingForSandbox", CONDITION),
  /** Started True: the code was handed to a sandbox. */
  SANDBOX_ASSIGNED("SandboxAssigned", CONDITION),
  /** The code was handed to a sandbox (the event of Started True). */
  STARTED("Started", EVENT),
  /** Succeeded Unknown: still running. */
  RUNNING("Running", CONDITION),

  // ---- Succeeded: the final reasons ----

  /** Finished with exit code 0. */
  COMPLETED("Completed", CONDITION, EVENT),
  /** Exited non-zero, raised, or returned a value JSON cannot hold. */
  USER_CODE_ERROR("UserCodeError", CONDITION, EVENT),
  /** Killed at timeoutSeconds. */
  TIMED_OUT("TimedOut", CONDITION, EVENT),
  /** Killed or failed at the memory limit. */
  OUT_OF_MEMORY("OutOfMemory", CONDITION, EVENT),
  /** Output exceeded maxOutputBytes and the provider says Fail. */
  OUTPUT_LIMIT_EXCEEDED("OutputLimitExceeded", CONDITION, EVENT),
  /**
   * The sandbox or backend failed (Started or Succeeded False); the code's own outcome is unknown.
   */
  SANDBOX_FAILED("SandboxFailed", CONDITION, EVENT),
  /** The operator restarted mid-run and the backend could not report the outcome. */
  INTERRUPTED("Interrupted", CONDITION, EVENT),

  // ---- events only ----

  /** Files in the output directory were left out at the provider's artifact limits. */
  ARTIFACTS_TRUNCATED("ArtifactsTruncated", EVENT),
  /** Entries in the output directory were skipped: symlinks, special files, bad names. */
  ARTIFACTS_SKIPPED("ArtifactsSkipped", EVENT),
  /** The artifacts could not be stored in their ConfigMap. */
  ARTIFACTS_NOT_STORED("ArtifactsNotStored", EVENT),
  /** The spec was changed after the execution was accepted; the change is ignored. */
  SPEC_CHANGE_IGNORED("SpecChangeIgnored", EVENT);

  private final Spelling spelling;

  CodeExecutionReason(String value, Use first, Use... rest) {
    this.spelling = Spelling.of(value, first, rest);
  }

  @Override
  public Spelling spelling() {
    return spelling;
  }

  /** The reason with that spelling on a condition, if it is one. */
  public static Optional<CodeExecutionReason> ofCondition(String reason) {
    return Arrays.stream(values()).filter(r -> r.onConditions() && r.is(reason)).findFirst();
  }

  @Override
  public String toString() {
    return spelling.value();
  }
}
