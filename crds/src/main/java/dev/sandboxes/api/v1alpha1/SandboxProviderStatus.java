package dev.sandboxes.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.kubernetes.api.model.Condition;
import java.util.ArrayList;
import java.util.List;

/** Observed state of a SandboxProvider. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class SandboxProviderStatus {

  @JsonPropertyDescription("The metadata.generation this status describes.")
  private Long observedGeneration;

  @JsonPropertyDescription(
      "Ready (True when the backend answered the last probe) with a reason such as BackendReachable, CredentialsMissing, CredentialsRejected, BackendUnreachable, RuntimeClassNotFound, PolicyViolation (the operator's isolation policy forbids a setting) or InvalidSpec; with spec.canary also CanaryPassed (CanarySucceeded or CanaryFailed, latency and failure in the message).")
  private List<Condition> conditions = new ArrayList<>();

  @JsonPropertyDescription("When the backend was last probed (RFC 3339).")
  private String lastProbeTime;

  @JsonPropertyDescription(
      "Sandbox pool per runtime: ready, claimed and desired counts (SelfManaged and Docker).")
  private List<PoolStatus> pools;

  @JsonPropertyDescription(
      "The last canary run (spec.canary): when it finished and how long it took; CanaryPassed says whether it passed.")
  private CanaryStatus canary;

  public Long getObservedGeneration() {
    return observedGeneration;
  }

  public void setObservedGeneration(Long observedGeneration) {
    this.observedGeneration = observedGeneration;
  }

  public List<Condition> getConditions() {
    return conditions;
  }

  public void setConditions(List<Condition> conditions) {
    this.conditions = conditions;
  }

  public String getLastProbeTime() {
    return lastProbeTime;
  }

  public void setLastProbeTime(String lastProbeTime) {
    this.lastProbeTime = lastProbeTime;
  }

  public List<PoolStatus> getPools() {
    return pools;
  }

  public void setPools(List<PoolStatus> pools) {
    this.pools = pools;
  }

  public CanaryStatus getCanary() {
    return canary;
  }

  public void setCanary(CanaryStatus canary) {
    this.canary = canary;
  }
}
