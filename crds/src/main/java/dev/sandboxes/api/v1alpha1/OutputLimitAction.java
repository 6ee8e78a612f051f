package dev.sandboxes.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonProperty;

/** What exceeding the output cap does to an execution. */
public enum OutputLimitAction {
  @JsonProperty("Truncate")
  TRUNCATE("Truncate"),
  @JsonProperty("Fail")
  FAIL("Fail");

  private final String value;

  OutputLimitAction(String value) {
    this.value = value;
  }

  /** The name used in manifests. */
  public String value() {
    return value;
  }

  /** Parses the manifest name; null when unknown. */
  public static OutputLimitAction fromValue(String value) {
    for (OutputLimitAction candidate : values()) {
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
