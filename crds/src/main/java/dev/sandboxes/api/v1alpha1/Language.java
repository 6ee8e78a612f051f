package dev.sandboxes.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonProperty;

/** A programming language a sandbox runs. */
public enum Language {
  @JsonProperty("python")
  PYTHON("python"),
  @JsonProperty("javascript")
  JAVASCRIPT("javascript");

  private final String value;

  Language(String value) {
    this.value = value;
  }

  /** The name used in manifests. */
  public String value() {
    return value;
  }

  /** Parses the manifest name; null when unknown. */
  public static Language fromValue(String value) {
    for (Language candidate : values()) {
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
