package dev.sandboxes.operator.config;

import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * The cluster operator's floor for sandbox isolation, which a SandboxProvider's author (a namespace
 * admin) cannot lower: which Docker OCI runtimes and network modes providers may ask for, whether a
 * Docker engine may be reached over plain tcp:// without TLS, which RuntimeClasses SelfManaged pods
 * may use and which CRI handlers those RuntimeClasses must have, and whether SelfManaged pods may
 * have egress. A provider that asks for more is Ready=False, PolicyViolation. Also the most
 * containers one Docker provider may have running executions at once; a provider's own
 * limits.maxConcurrentExecutions can only lower it.
 *
 * <p>Default: gVisor only (Docker runtime runsc; RuntimeClass gvisor with handler runsc), no
 * network, TLS required. A list holding "*" allows any value. Set through environment variables
 * (Helm values isolationPolicy.*), read once at start.
 */
public record IsolationPolicy(
    Set<String> dockerRuntimes,
    Set<String> dockerNetworks,
    boolean dockerPlainTcp,
    Set<String> runtimeClasses,
    Set<String> runtimeClassHandlers,
    boolean selfManagedEgress,
    int dockerMaxContainers) {

  public static final String ANY = "*";

  /** Default of {@link #dockerMaxContainers}. */
  public static final int DEFAULT_DOCKER_MAX_CONTAINERS = 16;

  public static final String ENV_DOCKER_RUNTIMES = "SANDBOX_POLICY_DOCKER_RUNTIMES";
  public static final String ENV_DOCKER_NETWORKS = "SANDBOX_POLICY_DOCKER_NETWORKS";
  public static final String ENV_DOCKER_PLAIN_TCP = "SANDBOX_POLICY_DOCKER_ALLOW_PLAIN_TCP";
  public static final String ENV_RUNTIME_CLASSES = "SANDBOX_POLICY_RUNTIME_CLASSES";
  public static final String ENV_RUNTIME_CLASS_HANDLERS = "SANDBOX_POLICY_RUNTIME_CLASS_HANDLERS";
  public static final String ENV_SELFMANAGED_EGRESS = "SANDBOX_POLICY_SELFMANAGED_EGRESS";
  public static final String ENV_DOCKER_MAX_CONTAINERS = "SANDBOX_POLICY_DOCKER_MAX_CONTAINERS";

  public IsolationPolicy {
    if (dockerMaxContainers < 1) {
      throw new IllegalArgumentException(
          ENV_DOCKER_MAX_CONTAINERS + " must be at least 1, not " + dockerMaxContainers);
    }
    dockerRuntimes = Set.copyOf(dockerRuntimes);
    dockerNetworks = Set.copyOf(dockerNetworks);
    runtimeClasses = Set.copyOf(runtimeClasses);
    runtimeClassHandlers = Set.copyOf(runtimeClassHandlers);
  }

  /** gVisor only, no network, TLS required. */
  public static IsolationPolicy defaults() {
    return new IsolationPolicy(
        Set.of("runsc"),
        Set.of("none"),
        false,
        Set.of("gvisor"),
        Set.of("runsc"),
        false,
        DEFAULT_DOCKER_MAX_CONTAINERS);
  }

  /**
   * Reads the SANDBOX_POLICY_* variables. An unset variable keeps the default; a set but empty list
   * allows nothing. A value that is not a list of names or not true/false is an error.
   */
  public static IsolationPolicy fromEnvironment(Map<String, String> env) {
    IsolationPolicy d = defaults();
    return new IsolationPolicy(
        list(env, ENV_DOCKER_RUNTIMES, d.dockerRuntimes()),
        list(env, ENV_DOCKER_NETWORKS, d.dockerNetworks()),
        bool(env, ENV_DOCKER_PLAIN_TCP, d.dockerPlainTcp()),
        list(env, ENV_RUNTIME_CLASSES, d.runtimeClasses()),
        list(env, ENV_RUNTIME_CLASS_HANDLERS, d.runtimeClassHandlers()),
        bool(env, ENV_SELFMANAGED_EGRESS, d.selfManagedEgress()),
        count(env, ENV_DOCKER_MAX_CONTAINERS, d.dockerMaxContainers()));
  }

  /** This policy as the variables that configure it (for tests and in-process operators). */
  public Map<String, String> toEnvironment() {
    return Map.of(
        ENV_DOCKER_RUNTIMES, String.join(",", new TreeSet<>(dockerRuntimes)),
        ENV_DOCKER_NETWORKS, String.join(",", new TreeSet<>(dockerNetworks)),
        ENV_DOCKER_PLAIN_TCP, Boolean.toString(dockerPlainTcp),
        ENV_RUNTIME_CLASSES, String.join(",", new TreeSet<>(runtimeClasses)),
        ENV_RUNTIME_CLASS_HANDLERS, String.join(",", new TreeSet<>(runtimeClassHandlers)),
        ENV_SELFMANAGED_EGRESS, Boolean.toString(selfManagedEgress),
        ENV_DOCKER_MAX_CONTAINERS, Integer.toString(dockerMaxContainers));
  }

  /**
   * A copy that also allows these Docker runtimes, RuntimeClasses and handlers (e.g. runc in
   * tests).
   */
  public IsolationPolicy alsoAllowing(
      Set<String> dockerRuntimes, Set<String> runtimeClasses, Set<String> handlers) {
    return new IsolationPolicy(
        union(this.dockerRuntimes, dockerRuntimes),
        dockerNetworks,
        dockerPlainTcp,
        union(this.runtimeClasses, runtimeClasses),
        union(this.runtimeClassHandlers, handlers),
        selfManagedEgress,
        dockerMaxContainers);
  }

  /** A copy with another cap on the containers one Docker provider may have running executions. */
  public IsolationPolicy withDockerMaxContainers(int max) {
    return new IsolationPolicy(
        dockerRuntimes,
        dockerNetworks,
        dockerPlainTcp,
        runtimeClasses,
        runtimeClassHandlers,
        selfManagedEgress,
        max);
  }

  /** The cap for one Docker provider: this policy's, or the provider's own limit when lower. */
  public int dockerContainerCap(Integer providerLimit) {
    return providerLimit == null
        ? dockerMaxContainers
        : Math.min(providerLimit, dockerMaxContainers);
  }

  public boolean allowsDockerRuntime(String runtime) {
    return allows(dockerRuntimes, runtime);
  }

  public boolean allowsDockerNetwork(String network) {
    return allows(dockerNetworks, network);
  }

  public boolean allowsRuntimeClass(String name) {
    return allows(runtimeClasses, name);
  }

  public boolean allowsRuntimeClassHandler(String handler) {
    return allows(runtimeClassHandlers, handler);
  }

  /** "runsc" or "runc, runsc" or "none" (nothing allowed), for messages. */
  public static String describe(Set<String> allowed) {
    return allowed.isEmpty() ? "none allowed" : String.join(", ", new TreeSet<>(allowed));
  }

  private static boolean allows(Set<String> allowed, String value) {
    return allowed.contains(ANY) || (value != null && allowed.contains(value));
  }

  private static Set<String> union(Set<String> a, Set<String> b) {
    Set<String> all = new TreeSet<>(a);
    all.addAll(b);
    return all;
  }

  private static Set<String> list(Map<String, String> env, String name, Set<String> fallback) {
    String value = env.get(name);
    if (value == null) {
      return fallback;
    }
    Set<String> items =
        Arrays.stream(value.split(","))
            .map(String::trim)
            .filter(s -> !s.isEmpty())
            .collect(Collectors.toCollection(TreeSet::new));
    for (String item : items) {
      if (!item.equals(ANY) && !item.matches("[A-Za-z0-9][A-Za-z0-9._/:-]*")) {
        throw new IllegalArgumentException(
            name + " must be a comma-separated list of names (or *), not '" + value + "'");
      }
    }
    return items;
  }

  private static int count(Map<String, String> env, String name, int fallback) {
    String value = env.get(name);
    if (value == null || value.isBlank()) {
      return fallback;
    }
    try {
      int parsed = Integer.parseInt(value.trim());
      if (parsed < 1) {
        throw new IllegalArgumentException(name + " must be at least 1, not " + value);
      }
      return parsed;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + " must be a number, not '" + value + "'", e);
    }
  }

  private static boolean bool(Map<String, String> env, String name, boolean fallback) {
    String value = env.get(name);
    if (value == null || value.isBlank()) {
      return fallback;
    }
    return switch (value.trim().toLowerCase(Locale.ROOT)) {
      case "true" -> true;
      case "false" -> false;
      default ->
          throw new IllegalArgumentException(name + " must be true or false, not '" + value + "'");
    };
  }
}
