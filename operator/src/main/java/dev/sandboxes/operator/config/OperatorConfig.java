package dev.sandboxes.operator.config;

import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * Operator settings from environment variables, with defaults. Read once at start.
 *
 * @param defaultRuntimeImage image of SelfManaged and Docker runtimes that name none
 * @param watchNamespaces namespaces to watch; empty means all
 * @param probeInterval how often a Ready provider is probed again
 * @param reconcileThreads JOSDK reconciliation threads per controller
 * @param healthPort port of /healthz, /readyz and /metrics; 0 disables the server
 * @param leaderElection whether replicas elect a leader through a Lease (several replicas)
 * @param leaseName name of the Lease
 * @param leaseNamespace namespace of the Lease (the operator's own namespace)
 * @param isolationPolicy the floor for sandbox isolation that providers cannot lower
 */
public record OperatorConfig(
    String defaultRuntimeImage,
    List<String> watchNamespaces,
    Duration probeInterval,
    int reconcileThreads,
    int healthPort,
    boolean leaderElection,
    String leaseName,
    String leaseNamespace,
    IsolationPolicy isolationPolicy) {

  public static final String DEFAULT_RUNTIME_IMAGE = "localhost/sandbox-runtime:v1";

  /** Settings with the default isolation policy. */
  public OperatorConfig(
      String defaultRuntimeImage,
      List<String> watchNamespaces,
      Duration probeInterval,
      int reconcileThreads,
      int healthPort,
      boolean leaderElection,
      String leaseName,
      String leaseNamespace) {
    this(
        defaultRuntimeImage,
        watchNamespaces,
        probeInterval,
        reconcileThreads,
        healthPort,
        leaderElection,
        leaseName,
        leaseNamespace,
        IsolationPolicy.defaults());
  }

  /** The same settings with another isolation policy. */
  public OperatorConfig withIsolationPolicy(IsolationPolicy policy) {
    return new OperatorConfig(
        defaultRuntimeImage,
        watchNamespaces,
        probeInterval,
        reconcileThreads,
        healthPort,
        leaderElection,
        leaseName,
        leaseNamespace,
        policy);
  }

  /** Defaults only, for tests and the run command. */
  public static OperatorConfig defaults() {
    return fromEnvironment(Map.of());
  }

  /** Reads SANDBOX_* variables; unknown values fall back to defaults with no surprises. */
  public static OperatorConfig fromEnvironment(Map<String, String> env) {
    String image = env.getOrDefault("SANDBOX_DEFAULT_RUNTIME_IMAGE", DEFAULT_RUNTIME_IMAGE);
    String namespaces = env.getOrDefault("SANDBOX_WATCH_NAMESPACES", "").trim();
    List<String> watch = namespaces.isEmpty() ? List.of() : List.of(namespaces.split("\\s*,\\s*"));
    return new OperatorConfig(
        image,
        watch,
        Duration.ofSeconds(positive(env.get("SANDBOX_PROBE_INTERVAL_SECONDS"), 30)),
        positive(env.get("SANDBOX_RECONCILE_THREADS"), 20),
        nonNegative(env.get("SANDBOX_HEALTH_PORT"), 8080),
        Boolean.parseBoolean(env.getOrDefault("SANDBOX_LEADER_ELECTION", "false")),
        env.getOrDefault("SANDBOX_LEASE_NAME", "sandbox-operator"),
        env.getOrDefault("SANDBOX_LEASE_NAMESPACE", env.getOrDefault("POD_NAMESPACE", "default")),
        IsolationPolicy.fromEnvironment(env));
  }

  private static int positive(String value, int fallback) {
    int parsed = nonNegative(value, fallback);
    return parsed > 0 ? parsed : fallback;
  }

  private static int nonNegative(String value, int fallback) {
    if (value == null || value.isBlank()) {
      return fallback;
    }
    try {
      int parsed = Integer.parseInt(value.trim());
      if (parsed < 0) {
        throw new IllegalArgumentException("must not be negative: " + value);
      }
      return parsed;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("not a number: " + value, e);
    }
  }
}
