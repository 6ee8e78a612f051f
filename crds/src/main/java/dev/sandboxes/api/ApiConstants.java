package dev.sandboxes.api;

/**
 * Names shared by the API, the operator and clients: group, version, kinds, labels, annotations.
 */
public final class ApiConstants {

  public static final String GROUP = "sandboxes.dev";
  public static final String VERSION = "v1alpha1";
  public static final String API_VERSION = GROUP + "/" + VERSION;

  public static final String KIND_SANDBOX_PROVIDER = "SandboxProvider";
  public static final String KIND_CODE_EXECUTION = "CodeExecution";

  /** Annotation marking the namespace's default provider (the StorageClass convention). */
  public static final String DEFAULT_PROVIDER_ANNOTATION = GROUP + "/is-default-provider";

  /**
   * On a RuntimeClass: {@code none} says its pods get no network at all (the local cluster's gVisor
   * runs with {@code --network=none}), so an egress allow-list cannot work on it.
   */
  public static final String POD_NETWORK_ANNOTATION = GROUP + "/pod-network";

  /** Label on every object and container the operator creates. */
  public static final String MANAGED_BY_LABEL = GROUP + "/managed-by";

  /** Value of {@link #MANAGED_BY_LABEL}. */
  public static final String MANAGED_BY_VALUE = "sandbox-operator";

  /** Label naming the SandboxProvider that owns a sandbox. */
  public static final String PROVIDER_LABEL = GROUP + "/provider";

  /** Label holding the uid of the SandboxProvider that owns a sandbox. */
  public static final String PROVIDER_UID_LABEL = GROUP + "/provider-uid";

  /** Label naming the language of a sandbox. */
  public static final String LANGUAGE_LABEL = GROUP + "/language";

  /** Label holding a sandbox's state: idle or claimed. */
  public static final String STATE_LABEL = GROUP + "/state";

  /** Label holding the uid of the CodeExecution a sandbox runs. */
  public static final String EXECUTION_UID_LABEL = GROUP + "/execution-uid";

  /**
   * Label by which a Secret opts in to being read by CodeExecutions (codeFrom.secretKeyRef,
   * argumentsFrom.secretKeyRef), and a ConfigMap to being read as arguments
   * (argumentsFrom.configMapKeyRef); the value must be {@link #EXECUTION_INPUT_VALUE}. Without it
   * the operator refuses to read the object on an execution's behalf (no confused deputy).
   */
  public static final String EXECUTION_INPUT_LABEL = GROUP + "/execution-input";

  /** Value of {@link #EXECUTION_INPUT_LABEL}. */
  public static final String EXECUTION_INPUT_VALUE = "true";

  /** Finalizer for executions whose backend holds state outside the cluster. */
  public static final String FINALIZER = GROUP + "/sandbox-cleanup";

  private ApiConstants() {}
}
