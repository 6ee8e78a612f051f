package dev.sandboxes.api.v1alpha1;

/**
 * Condition types of both kinds. Their reasons are typed: {@link CodeExecutionReason} and {@link
 * SandboxProviderReason}.
 */
public final class ConditionTypes {

  /** SandboxProvider summary: the backend answered the last probe. */
  public static final String READY = "Ready";

  /** CodeExecution: the spec is valid and a provider was resolved. */
  public static final String ACCEPTED = "Accepted";

  /**
   * CodeExecution: the code was handed to a sandbox (written before it is, so code never runs
   * twice).
   */
  public static final String STARTED = "Started";

  /** CodeExecution summary: Unknown until finished, then True or False with a failure reason. */
  public static final String SUCCEEDED = "Succeeded";

  /** SandboxProvider with spec.canary: the last end-to-end test execution passed. */
  public static final String CANARY_PASSED = "CanaryPassed";

  private ConditionTypes() {}
}
