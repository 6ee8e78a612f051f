package dev.sandboxes.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonProperty;

/** What exceeding the output cap does to an execution. */
public enum OutputLimitAction implements WireNamed {
  @JsonProperty("Truncate")
  TRUNCATE,
  @JsonProperty("Fail")
  FAIL;

  @Override
  public String toString() {
    return value();
  }
}
