package dev.sandboxes.operator.backend.selfmanaged;

import dev.sandboxes.api.v1alpha1.EgressPolicy;
import dev.sandboxes.api.v1alpha1.EgressSpec;
import dev.sandboxes.api.v1alpha1.SandboxResources;
import dev.sandboxes.api.v1alpha1.SelfManagedSpec;
import dev.sandboxes.operator.provider.ProviderSettings;
import io.fabric8.kubernetes.api.model.Toleration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A SelfManaged provider's pod settings with defaults applied: where sandbox pods run, how big they
 * are, and what network they may reach.
 *
 * @param egressCidrs CIDRs sandbox pods may reach; empty means no egress at all
 * @param pidsLimit processes and threads an execution may have at once (see SandboxProcessLimit)
 * @param maxPoolSize most idle and starting pods per runtime when demand is high (at least
 *     poolSize)
 */
public record SelfManagedSettings(
    String runtimeClassName,
    int poolSize,
    String cpu,
    String memory,
    String ephemeralStorage,
    Map<String, String> nodeSelector,
    List<Toleration> tolerations,
    List<String> egressCidrs,
    int pidsLimit,
    int maxPoolSize) {

  public static final String DEFAULT_RUNTIME_CLASS = "gvisor";
  public static final String DEFAULT_CPU = "1";
  public static final String DEFAULT_MEMORY = "256Mi";

  /** Also the size limit of the writable /tmp. */
  public static final String DEFAULT_EPHEMERAL_STORAGE = "64Mi";

  /**
   * Tasks (processes and threads) per execution: node needs about a dozen, a fork bomb thousands.
   */
  public static final int DEFAULT_PIDS_LIMIT = 256;

  public static SelfManagedSettings of(SelfManagedSpec spec) {
    SelfManagedSpec s = spec == null ? new SelfManagedSpec() : spec;
    SandboxResources resources =
        s.getResources() == null ? new SandboxResources() : s.getResources();
    EgressSpec egress = s.getEgress();
    List<String> cidrs =
        egress != null
                && egress.getPolicy() == EgressPolicy.ALLOW_LIST
                && egress.getAllowedCidrs() != null
            ? List.copyOf(egress.getAllowedCidrs())
            : List.of();
    return new SelfManagedSettings(
        s.getRuntimeClassName() == null ? DEFAULT_RUNTIME_CLASS : s.getRuntimeClassName(),
        s.getPoolSize() == null ? ProviderSettings.DEFAULT_POOL_SIZE : s.getPoolSize(),
        or(resources.getCpu(), DEFAULT_CPU),
        or(resources.getMemory(), DEFAULT_MEMORY),
        or(resources.getEphemeralStorage(), DEFAULT_EPHEMERAL_STORAGE),
        s.getNodeSelector() == null ? Map.of() : new TreeMap<>(s.getNodeSelector()),
        s.getTolerations() == null ? List.of() : List.copyOf(s.getTolerations()),
        cidrs,
        s.getPidsLimit() == null ? DEFAULT_PIDS_LIMIT : s.getPidsLimit(),
        Math.max(
            s.getPoolSize() == null ? ProviderSettings.DEFAULT_POOL_SIZE : s.getPoolSize(),
            s.getMaxPoolSize() == null ? 0 : s.getMaxPoolSize()));
  }

  private static String or(String value, String fallback) {
    return value == null || value.isBlank() ? fallback : value;
  }
}
