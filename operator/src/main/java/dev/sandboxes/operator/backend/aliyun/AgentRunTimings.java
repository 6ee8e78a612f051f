package dev.sandboxes.operator.backend.aliyun;

import dev.sandboxes.operator.backend.saas.RetryPolicy;
import java.time.Duration;

/**
 * How long the Aliyun backend waits and how often it retries. Production uses {@link #defaults()};
 * tests shorten the waits so that fault injection stays fast.
 *
 * @param callTimeout one control- or data-plane call, response headers included (not the command)
 * @param attempts tries of a call that failed with a 5xx or a connection error (at least 1)
 * @param retryBackoff wait before the second try; doubles for each further one
 * @param quotaWait how long an execution keeps asking for a sandbox while AgentRun throttles or
 *     reports its quota exhausted, before it fails with SandboxFailed
 * @param firstThrottleBackoff backoff after a throttled answer without a retry-after hint; doubles
 *     up to maxThrottleBackoff while throttling goes on
 * @param provisionTimeout from CreateSandbox's answer until the sandbox passes its health check
 *     (the official SDK waits 60 s); time spent waiting out throttling is not counted
 * @param pollInterval between GetSandbox / health polls while a sandbox starts
 * @param templateWait how long one probe waits for a template it created to become READY
 * @param sandboxIdleTimeoutSeconds AgentRun deletes a sandbox idle this long: the backstop for one
 *     the operator could not delete
 * @param maintenanceInterval how often failed deletions are retried and leftovers are looked for
 * @param leftoverAge a sandbox of this provider older than this is a leftover (no execution lives
 *     that long: provisioning plus at most 30 s of code)
 * @param maxResponseBytes largest response body read, except the command's, whose bound follows
 *     from maxOutputBytes (the command bounds its output inside the sandbox)
 */
public record AgentRunTimings(
    Duration callTimeout,
    int attempts,
    Duration retryBackoff,
    Duration quotaWait,
    Duration firstThrottleBackoff,
    Duration maxThrottleBackoff,
    Duration provisionTimeout,
    Duration pollInterval,
    Duration templateWait,
    int sandboxIdleTimeoutSeconds,
    Duration maintenanceInterval,
    Duration leftoverAge,
    long maxResponseBytes) {

  /**
   * How a call that may be sent again is retried: {@code attempts} tries, {@code retryBackoff}
   * doubling, or the service's longer hint.
   */
  RetryPolicy retries() {
    return new RetryPolicy(Math.max(1, attempts), retryBackoff, null);
  }

  public static AgentRunTimings defaults() {
    return new AgentRunTimings(
        Duration.ofSeconds(15),
        3,
        Duration.ofMillis(500),
        Duration.ofMinutes(2),
        Duration.ofSeconds(1),
        Duration.ofSeconds(30),
        Duration.ofSeconds(60),
        Duration.ofMillis(500),
        Duration.ofSeconds(10),
        300,
        Duration.ofMinutes(1),
        Duration.ofMinutes(10),
        8L * 1024 * 1024);
  }
}
