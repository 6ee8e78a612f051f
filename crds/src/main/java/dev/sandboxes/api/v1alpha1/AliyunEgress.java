package dev.sandboxes.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonProperty;

/** Network access of Aliyun AgentRun sandboxes. */
public enum AliyunEgress implements WireNamed {
  /** No internet: templates with networkMode PRIVATE only. */
  @JsonProperty("Deny")
  DENY,
  /** Internet egress allowed: templates with networkMode PUBLIC (or PUBLIC_AND_PRIVATE). */
  @JsonProperty("Internet")
  INTERNET;

  @Override
  public String toString() {
    return value();
  }
}
