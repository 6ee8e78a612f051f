package dev.sandboxes.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonProperty;

/** Network egress of sandboxes. */
public enum EgressPolicy {
  @JsonProperty("Deny")
  DENY("Deny"),
  @JsonProperty("AllowList")
  ALLOW_LIST("AllowList");

  private final String value;

  EgressPolicy(String value) {
    this.value = value;
  }

  /** The name used in manifests. */
  public String value() {
    return value;
  }

  /** Parses the manifest name; null when unknown. */
  public static EgressPolicy fromValue(String value) {
    for (EgressPolicy candidate : values()) {
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
