package dev.sandboxes.api.v1alpha1;

import static dev.sandboxes.api.v1alpha1.Reason.Use.CONDITION;
import static dev.sandboxes.api.v1alpha1.Reason.Use.EVENT;

/** Every reason of a SandboxProvider's conditions and events, each with its API spelling. */
public enum SandboxProviderReason implements Reason {

  // ---- Ready ----

  /** The first probe has not finished yet. */
  PROBING("Probing", CONDITION),
  /** Ready True: the backend answered a real probe. */
  BACKEND_REACHABLE("BackendReachable", CONDITION),
  /** A referenced Secret or key does not exist. */
  CREDENTIALS_MISSING("CredentialsMissing", CONDITION, EVENT),
  /** The backend refused the credentials. */
  CREDENTIALS_REJECTED("CredentialsRejected", CONDITION),
  /** The backend could not be reached or answered with an error. */
  BACKEND_UNREACHABLE("BackendUnreachable", CONDITION),
  /** The SelfManaged RuntimeClass does not exist. */
  RUNTIME_CLASS_NOT_FOUND("RuntimeClassNotFound", CONDITION),
  /** The Docker engine lacks the configured OCI runtime. */
  RUNTIME_NOT_FOUND("RuntimeNotFound", CONDITION),
  /** The configured image is not present on the engine. */
  IMAGE_NOT_FOUND("ImageNotFound", CONDITION),
  /**
   * SelfManaged sandbox pods cannot pull their image (ErrImagePull, ImagePullBackOff,
   * InvalidImageName).
   */
  IMAGE_PULL_FAILED("ImagePullFailed", CONDITION),
  /**
   * SelfManaged sandbox pods are created but fail to start (container config error, exit at start).
   */
  SANDBOX_POD_FAILED("SandboxPodFailed", CONDITION),
  /**
   * Sandboxes fail to start, the same way several times in a row (a container engine's runtime
   * error, a pod whose entrypoint cannot exec, an E2B sandbox whose envd does not answer, an
   * AgentRun sandbox that never becomes healthy); the message quotes the backend's error. Cleared
   * by itself once a start succeeds.
   */
  SANDBOX_START_FAILING("SandboxStartFailing", CONDITION, EVENT),
  /** The Aliyun or E2B template a runtime names does not exist, or failed to build. */
  TEMPLATE_NOT_FOUND("TemplateNotFound", CONDITION),
  /** Aliyun with egress Deny: a template the provider uses allows public network access. */
  TEMPLATE_NOT_PRIVATE("TemplateNotPrivate", CONDITION),
  /** The spec is invalid; the message names the field. */
  INVALID_SPEC("InvalidSpec", CONDITION),
  /**
   * The provider asks for weaker isolation than the operator's isolation policy allows (a Docker
   * runtime, network mode or plain tcp:// host, a RuntimeClass or handler, egress); the message
   * names the field. Set by the cluster's operator (Helm values), not by the provider's author.
   */
  POLICY_VIOLATION("PolicyViolation", CONDITION, EVENT),
  /**
   * SelfManaged: the provider allows egress to some CIDRs, but its RuntimeClass gives pods no
   * network at all (annotation sandboxes.dev/pod-network: none), so the allow-list cannot work.
   */
  EGRESS_UNSUPPORTED("EgressUnsupported", CONDITION),

  // ---- CanaryPassed ----

  /** CanaryPassed True: the canary returned the expected result. */
  CANARY_SUCCEEDED("CanarySucceeded", CONDITION),
  /**
   * CanaryPassed False: the canary failed, timed out or returned something else; the message says
   * what.
   */
  CANARY_FAILED("CanaryFailed", CONDITION),
  /** CanaryPassed Unknown: the provider is not Ready, or no sandbox was free for the canary yet. */
  CANARY_PENDING("CanaryPending", CONDITION),

  // ---- events only ----

  /** The backend answered its probe (Ready turned True). */
  PROVIDER_READY("ProviderReady", EVENT),
  /** The backend failed its probe. */
  PROBE_FAILED("ProbeFailed", EVENT),
  /** Sandboxes had failed to start and one started again. */
  SANDBOX_START_RECOVERED("SandboxStartRecovered", EVENT),
  /** The spec is invalid (the event of Ready False with InvalidSpec). */
  INVALID_PROVIDER_SPEC("InvalidProviderSpec", EVENT),
  /**
   * A pool's target changed with demand (arrival rate × pod start time, between poolSize and
   * maxPoolSize).
   */
  POOL_RESIZED("PoolResized", EVENT);

  private final Spelling spelling;

  SandboxProviderReason(String value, Use first, Use... rest) {
    this.spelling = Spelling.of(value, first, rest);
  }

  @Override
  public Spelling spelling() {
    return spelling;
  }

  @Override
  public String toString() {
    return spelling.value();
  }
}
