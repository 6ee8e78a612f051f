package dev.sandboxes.operator.backend.e2b;

import java.time.Duration;

/**
 * The E2B backend's time budgets. Production uses {@link #defaults()}; tests shorten the backoff so
 * that rate-limit scenarios finish in seconds.
 *
 * @param sandboxTimeoutMargin added to the execution's timeout to form the sandbox's own TTL, so
 *     the service kills a sandbox the operator lost track of shortly after the run would have ended
 * @param requestTimeout limit of one control-plane call (create, kill, list)
 * @param initialBackoff first wait after a 429 from sandbox creation; doubles up to maxBackoff
 * @param maxBackoff longest wait between creation attempts
 * @param maxQuotaWait how long an execution that already holds a lease keeps retrying a refused
 *     creation before it fails with SandboxFailed
 */
public record E2bTimings(
    Duration sandboxTimeoutMargin,
    Duration requestTimeout,
    Duration initialBackoff,
    Duration maxBackoff,
    Duration maxQuotaWait) {

  public static E2bTimings defaults() {
    return new E2bTimings(
        Duration.ofSeconds(30),
        Duration.ofSeconds(30),
        Duration.ofSeconds(2),
        Duration.ofSeconds(60),
        Duration.ofMinutes(10));
  }
}
