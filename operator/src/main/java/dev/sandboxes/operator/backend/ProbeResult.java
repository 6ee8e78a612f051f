package dev.sandboxes.operator.backend;

import dev.sandboxes.api.v1alpha1.SandboxProviderReason;

/**
 * Outcome of a backend probe, as the provider's Ready condition will show it.
 *
 * @param reason the Ready reason, such as BackendReachable or CredentialsRejected
 * @param message one sentence; names objects and endpoints, never secret values
 */
public record ProbeResult(boolean ready, SandboxProviderReason reason, String message) {

  public static ProbeResult reachable(String message) {
    return new ProbeResult(true, SandboxProviderReason.BACKEND_REACHABLE, message);
  }

  public static ProbeResult notReady(SandboxProviderReason reason, String message) {
    return new ProbeResult(false, reason, message);
  }
}
