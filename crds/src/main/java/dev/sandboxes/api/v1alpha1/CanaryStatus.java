package dev.sandboxes.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;

/** What the last canary run measured. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class CanaryStatus {

  @JsonPropertyDescription("When the last canary run finished (RFC 3339).")
  private String lastRunTime;

  @JsonPropertyDescription(
      "Milliseconds from asking the backend for a sandbox to the canary's final outcome, sandbox creation and deletion included.")
  private Long latencyMillis;

  @JsonPropertyDescription("Language the last canary ran.")
  private Language language;

  public String getLastRunTime() {
    return lastRunTime;
  }

  public void setLastRunTime(String lastRunTime) {
    this.lastRunTime = lastRunTime;
  }

  public Long getLatencyMillis() {
    return latencyMillis;
  }

  public void setLatencyMillis(Long latencyMillis) {
    this.latencyMillis = latencyMillis;
  }

  public Language getLanguage() {
    return language;
  }

  public void setLanguage(Language language) {
    this.language = language;
  }
}
