package dev.sandboxes.operator.backend;

import dev.sandboxes.api.v1alpha1.ConditionTypes;

/**
 * Outcome of a backend probe, as the provider's Ready condition will show it.
 *
 * @param reason a ConditionTypes reason such as BackendReachable or CredentialsRejected
 * @param message one sentence; names objects and endpoints, never secret values
 */
public record ProbeResult(boolean ready, String reason, String message) {

  public static ProbeResult reachable(String message) {
    return new ProbeResult(true, ConditionTypes.BACKEND_REACHABLE, message);
  }

  public static ProbeResult notReady(String reason, String message) {
    return new ProbeResult(false, reason, message);
  }
}
