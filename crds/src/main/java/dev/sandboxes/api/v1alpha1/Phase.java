package dev.sandboxes.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonProperty;

/** Summary of a CodeExecution's conditions, computed in one place. */
public enum Phase implements WireNamed {
  @JsonProperty("Pending")
  PENDING,
  @JsonProperty("Running")
  RUNNING,
  @JsonProperty("Succeeded")
  SUCCEEDED,
  @JsonProperty("Failed")
  FAILED;

  @Override
  public String toString() {
    return value();
  }
}
