package dev.sandboxes.operator.backend;

import dev.sandboxes.api.v1alpha1.SandboxProviderReason;

/**
 * Why a backend's sandboxes fail to start, after several identical failures in a row.
 *
 * @param reason the provider's Ready reason: SandboxStartFailing, or a more specific one
 *     (ImagePullFailed)
 * @param error the backend's or engine's own error, quoted, with secret values redacted
 * @param hint one sentence on what to check, or null
 */
public record StartFailure(SandboxProviderReason reason, String error, String hint) {

  /** The error and the hint as one message for a condition, an event or a terminal line. */
  public String describe() {
    return hint == null ? error : error + ". " + hint;
  }
}
