package dev.sandboxes.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonProperty;

/** A programming language a sandbox runs. */
public enum Language implements WireNamed {
  @JsonProperty("python")
  PYTHON,
  @JsonProperty("javascript")
  JAVASCRIPT;

  @Override
  public String toString() {
    return value();
  }
}
