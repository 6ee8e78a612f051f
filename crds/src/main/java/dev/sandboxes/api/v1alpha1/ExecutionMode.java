package dev.sandboxes.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonProperty;

/** How the code is run: call an entrypoint function, or run the code as a program. */
public enum ExecutionMode implements WireNamed {
  @JsonProperty("Function")
  FUNCTION,
  @JsonProperty("Script")
  SCRIPT;

  @Override
  public String toString() {
    return value();
  }
}
