package dev.sandboxes.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonProperty;

/** Summary of a CodeExecution's conditions, computed in one place. */
public enum Phase {
  @JsonProperty("Pending")
  PENDING("Pending"),
  @JsonProperty("Running")
  RUNNING("Running"),
  @JsonProperty("Succeeded")
  SUCCEEDED("Succeeded"),
  @JsonProperty("Failed")
  FAILED("Failed");

  private final String value;

  Phase(String value) {
    this.value = value;
  }

  /** The name used in manifests. */
  public String value() {
    return value;
  }

  /** Parses the manifest name; null when unknown. */
  public static Phase fromValue(String value) {
    for (Phase candidate : values()) {
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
