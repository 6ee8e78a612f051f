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

  @JsonPropertyDescription("Sandboxes running an execution.")
  private Integer claimed;

  @JsonPropertyDescription("Idle sandboxes the pool aims to keep ready.")
  private Integer desired;

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

  public Integer getClaimed() {
    return claimed;
  }

  public void setClaimed(Integer claimed) {
    this.claimed = claimed;
  }

  public Integer getDesired() {
    return desired;
  }

  public void setDesired(Integer desired) {
    this.desired = desired;
  }
}
