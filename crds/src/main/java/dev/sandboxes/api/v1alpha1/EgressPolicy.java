package dev.sandboxes.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonProperty;

/** Network egress of sandboxes. */
public enum EgressPolicy implements WireNamed {
  @JsonProperty("Deny")
  DENY,
  @JsonProperty("AllowList")
  ALLOW_LIST;

  @Override
  public String toString() {
    return value();
  }
}
