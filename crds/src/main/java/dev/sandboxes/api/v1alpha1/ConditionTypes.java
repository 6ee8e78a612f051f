package dev.sandboxes.api.v1alpha1;

/** Condition types and reasons of both kinds; reasons are one CamelCase word each. */
public final class ConditionTypes {

  // ---- types ----

  /** SandboxProvider summary: the backend answered the last probe. */
  public static final String READY = "Ready";
  /** CodeExecution: the spec is valid and a provider was resolved. */
  public static final String ACCEPTED = "Accepted";
  /** CodeExecution: the code was handed to a sandbox (written before it is, so code never runs twice). */
  public static final String STARTED = "Started";
  /** CodeExecution summary: Unknown until finished, then True or False with a failure reason. */
  public static final String SUCCEEDED = "Succeeded";
  /** SandboxProvider with spec.canary: the last end-to-end test execution passed. */
  public static final String CANARY_PASSED = "CanaryPassed";

  // ---- SandboxProvider reasons ----

  /** The backend answered a real probe. */
  public static final String BACKEND_REACHABLE = "BackendReachable";
  /** A referenced Secret or key does not exist. */
  public static final String CREDENTIALS_MISSING = "CredentialsMissing";
  /** The backend refused the credentials. */
  public static final String CREDENTIALS_REJECTED = "CredentialsRejected";
  /** The backend could not be reached or answered with an error. */
  public static final String BACKEND_UNREACHABLE = "BackendUnreachable";
  /** The SelfManaged RuntimeClass does not exist. */
  public static final String RUNTIME_CLASS_NOT_FOUND = "RuntimeClassNotFound";
  /** The Docker engine lacks the configured OCI runtime. */
  public static final String RUNTIME_NOT_FOUND = "RuntimeNotFound";
  /** The configured image is not present on the engine. */
  public static final String IMAGE_NOT_FOUND = "ImageNotFound";
  /** SelfManaged sandbox pods cannot pull their image (ErrImagePull, ImagePullBackOff, InvalidImageName). */
  public static final String IMAGE_PULL_FAILED = "ImagePullFailed";
  /** SelfManaged sandbox pods are created but fail to start (container config error, exit at start). */
  public static final String SANDBOX_POD_FAILED = "SandboxPodFailed";
  /**
   * Sandboxes fail to start, the same way several times in a row (a container engine's runtime
   * error, a pod whose entrypoint cannot exec, an E2B sandbox whose envd does not answer, an
   * AgentRun sandbox that never becomes healthy); the message quotes the backend's error. Cleared
   * by itself once a start succeeds.
   */
  public static final String SANDBOX_START_FAILING = "SandboxStartFailing";
  /** The Aliyun or E2B template a runtime names does not exist, or failed to build. */
  public static final String TEMPLATE_NOT_FOUND = "TemplateNotFound";
  /** The spec is invalid; the message names the field. */
  public static final String INVALID_SPEC = "InvalidSpec";
  /**
   * The provider asks for weaker isolation than the operator's isolation policy allows (a Docker
   * runtime, network mode or plain tcp:// host, a RuntimeClass or handler, egress); the message
   * names the field. Set by the cluster's operator (Helm values), not by the provider's author.
   */
  public static final String POLICY_VIOLATION = "PolicyViolation";
  /**
   * SelfManaged: the provider allows egress to some CIDRs, but its RuntimeClass gives pods no
   * network at all (annotation sandboxes.dev/pod-network: none), so the allow-list cannot work.
   */
  public static final String EGRESS_UNSUPPORTED = "EgressUnsupported";
  /** The first probe has not finished yet. */
  public static final String PROBING = "Probing";
  /** Aliyun with egress Deny: a template the provider uses allows public network access. */
  public static final String TEMPLATE_NOT_PRIVATE = "TemplateNotPrivate";
  /** CanaryPassed True: the canary returned the expected result. */
  public static final String CANARY_SUCCEEDED = "CanarySucceeded";
  /** CanaryPassed False: the canary failed, timed out or returned something else; the message says what. */
  public static final String CANARY_FAILED = "CanaryFailed";
  /** CanaryPassed Unknown: the provider is not Ready, or no sandbox was free for the canary yet. */
  public static final String CANARY_PENDING = "CanaryPending";

  // ---- CodeExecution reasons ----

  /** Accepted: valid spec, provider resolved. */
  public static final String VALID = "Valid";
  /** Waiting for its turn in the provider's queue. */
  public static final String QUEUED = "Queued";
  /** Waiting for a free sandbox or a concurrency slot. */
  public static final String WAITING_FOR_SANDBOX = "WaitingForSandbox";
  /** The code was handed to a sandbox. */
  public static final String SANDBOX_ASSIGNED = "SandboxAssigned";
  /** Still running. */
  public static final String RUNNING = "Running";
  /** Finished with exit code 0. */
  public static final String COMPLETED = "Completed";
  /** Exited non-zero, raised, or returned a value JSON cannot hold. */
  public static final String USER_CODE_ERROR = "UserCodeError";
  /** Killed at timeoutSeconds. */
  public static final String TIMED_OUT = "TimedOut";
  /** Killed or failed at the memory limit. */
  public static final String OUT_OF_MEMORY = "OutOfMemory";
  /** Output exceeded maxOutputBytes and the provider says Fail. */
  public static final String OUTPUT_LIMIT_EXCEEDED = "OutputLimitExceeded";
  /** The sandbox or backend failed; the code's own outcome is unknown. */
  public static final String SANDBOX_FAILED = "SandboxFailed";
  /** The operator restarted mid-run and the backend could not report the outcome. */
  public static final String INTERRUPTED = "Interrupted";
  /** The referenced or default provider does not exist. */
  public static final String PROVIDER_NOT_FOUND = "ProviderNotFound";
  /** The provider exists but is not Ready. */
  public static final String PROVIDER_NOT_READY = "ProviderNotReady";
  /** A ConfigMap, Secret or key named by codeFrom or argumentsFrom does not exist (yet). */
  public static final String REFERENCE_NOT_FOUND = "ReferenceNotFound";
  /**
   * A Secret named by codeFrom.secretKeyRef or argumentsFrom.secretKeyRef exists but does not carry
   * the label sandboxes.dev/execution-input: "true", so the operator refuses to read it for the
   * execution. Final: the execution never starts; label the Secret and create a new execution.
   */
  public static final String SECRET_NOT_ALLOWED = "SecretNotAllowed";
  /**
   * A ConfigMap named by argumentsFrom.configMapKeyRef exists but does not carry the label
   * sandboxes.dev/execution-input: "true" (the rule of {@link #SECRET_NOT_ALLOWED}, since arguments
   * can come back as the result). Final: label the ConfigMap and create a new execution.
   */
  public static final String CONFIG_MAP_NOT_ALLOWED = "ConfigMapNotAllowed";

  private ConditionTypes() {}
}
