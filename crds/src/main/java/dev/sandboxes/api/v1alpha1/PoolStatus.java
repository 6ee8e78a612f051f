package dev.sandboxes.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;

/** Observed sandbox pool of one runtime. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class PoolStatus {

  @JsonPropertyDescription("Runtime language of the pool.")
  private Language language;

  @JsonPropertyDescription("Idle sandboxes ready to take an execution.")
  private Integer ready;

  @JsonPropertyDescription(
      "Of the ready sandboxes, those whose runner is already loaded and waiting for its code:"
          + " an execution there skips the interpreter start (SelfManaged pools).")
  private Integer warm;

  @JsonPropertyDescription("Sandboxes running an execution.")
  private Integer claimed;

  @JsonPropertyDescription("Idle sandboxes the pool aims to keep ready.")
  private Integer desired;

  @JsonPropertyDescription(
      "Executions that arrived per minute over the last 30 seconds (SelfManaged pools).")
  private Integer arrivalsPerMinute;

  @JsonPropertyDescription(
      "Measured time from a sandbox's creation to Ready, moving average, in milliseconds"
          + " (SelfManaged pools).")
  private Integer startMillis;

  public Language getLanguage() {
    return language;
  }

  public void setLanguage(Language language) {
    this.language = language;
  }

  public Integer getReady() {
    return ready;
  }

  public void setReady(Integer ready) {
    this.ready = ready;
  }

  public Integer getWarm() {
    return warm;
  }

  public void setWarm(Integer warm) {
    this.warm = warm;
  }

  public Integer getClaimed() {
    return claimed;
  }

  public void setClaimed(Integer claimed) {
    this.claimed = claimed;
  }

  public Integer getArrivalsPerMinute() {
    return arrivalsPerMinute;
  }

  public void setArrivalsPerMinute(Integer arrivalsPerMinute) {
    this.arrivalsPerMinute = arrivalsPerMinute;
  }

  public Integer getStartMillis() {
    return startMillis;
  }

  public void setStartMillis(Integer startMillis) {
    this.startMillis = startMillis;
  }

  public Integer getDesired() {
    return desired;
  }

  public void setDesired(Integer desired) {
    this.desired = desired;
  }
}
