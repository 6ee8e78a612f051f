package dev.sandboxes.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonProperty;

/** Kind of backend a SandboxProvider runs code on. */
public enum ProviderType implements WireNamed {
  @JsonProperty("SelfManaged")
  SELF_MANAGED,
  @JsonProperty("Docker")
  DOCKER,
  @JsonProperty("Aliyun")
  ALIYUN,
  @JsonProperty("E2B")
  E2B;

  @Override
  public String toString() {
    return value();
  }
}
