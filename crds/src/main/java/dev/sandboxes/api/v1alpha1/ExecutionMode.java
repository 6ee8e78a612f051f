package dev.sandboxes.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonProperty;

/** How the code is run: call an entrypoint function, or run the code as a program. */
public enum ExecutionMode {
  @JsonProperty("Function")
  FUNCTION("Function"),
  @JsonProperty("Script")
  SCRIPT("Script");

  private final String value;

  ExecutionMode(String value) {
    this.value = value;
  }

  /** The name used in manifests. */
  public String value() {
    return value;
  }

  /** Parses the manifest name; null when unknown. */
  public static ExecutionMode fromValue(String value) {
    for (ExecutionMode candidate : values()) {
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
