package dev.sandboxes.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonProperty;

/** Kind of backend a SandboxProvider runs code on. */
public enum ProviderType {
  @JsonProperty("SelfManaged")
  SELF_MANAGED("SelfManaged"),
  @JsonProperty("Docker")
  DOCKER("Docker"),
  @JsonProperty("Aliyun")
  ALIYUN("Aliyun"),
  @JsonProperty("E2B")
  E2B("E2B");

  private final String value;

  ProviderType(String value) {
    this.value = value;
  }

  /** The name used in manifests. */
  public String value() {
    return value;
  }

  /** Parses the manifest name; null when unknown. */
  public static ProviderType fromValue(String value) {
    for (ProviderType candidate : values()) {
      if (candidate.value.equals(value)) {
        return candidate;
      }
    }
    return null;
  }

  @Override
  public String toString() {
    return value;
  }
}
