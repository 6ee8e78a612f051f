package dev.sandboxes.operator.sandboxprovider;

import static dev.sandboxes.api.util.Conditions.FALSE;
import static dev.sandboxes.api.util.Conditions.TRUE;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.PoolStatus;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.api.v1alpha1.SandboxProviderReason;
import dev.sandboxes.api.v1alpha1.SandboxProviderStatus;
import dev.sandboxes.operator.backend.ProbeResult;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;

/** Computes SandboxProvider statuses: pure functions from the object and a probe result. */
public final class SandboxProviderStatusCalculator {

  private static final ObjectMapper JSON = new ObjectMapper();

  private SandboxProviderStatusCalculator() {}

  /** Ready from a probe, with pool counts and the probe time. */
  public static SandboxProviderStatus probed(
      SandboxProvider provider, ProbeResult probe, List<PoolStatus> pools, Instant now) {
    SandboxProviderStatus status = copy(provider);
    long generation = generation(provider);
    Conditions.set(
        status.getConditions(),
        ConditionTypes.READY,
        probe.ready() ? TRUE : FALSE,
        probe.reason(),
        probe.message(),
        generation,
        now);
    status.setLastProbeTime(now.truncatedTo(ChronoUnit.SECONDS).toString());
    status.setPools(pools == null || pools.isEmpty() ? null : pools);
    status.setObservedGeneration(generation);
    return status;
  }

  /** Not Ready without a probe: invalid spec, missing Secret, unsupported type. */
  public static SandboxProviderStatus notReady(
      SandboxProvider provider, SandboxProviderReason reason, String message, Instant now) {
    SandboxProviderStatus status = copy(provider);
    long generation = generation(provider);
    Conditions.set(
        status.getConditions(), ConditionTypes.READY, FALSE, reason, message, generation, now);
    status.setPools(null);
    status.setObservedGeneration(generation);
    return status;
  }

  private static SandboxProviderStatus copy(SandboxProvider provider) {
    if (provider.getStatus() == null) {
      SandboxProviderStatus fresh = new SandboxProviderStatus();
      fresh.setConditions(new ArrayList<>());
      return fresh;
    }
    SandboxProviderStatus copy =
        JSON.convertValue(provider.getStatus(), SandboxProviderStatus.class);
    if (copy.getConditions() == null) {
      copy.setConditions(new ArrayList<>());
    }
    return copy;
  }

  private static long generation(SandboxProvider provider) {
    Long generation = provider.getMetadata().getGeneration();
    return generation == null ? 1L : generation;
  }
}
