package dev.sandboxes.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;

/**
 * An end-to-end test execution the operator runs on a provider now and then ("test connection").
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class CanarySpec {

  @JsonPropertyDescription(
      "Seconds between two canary runs; the first runs as soon as the provider is Ready. Default 300.")
  @Min(30)
  @Max(86400)
  private Integer intervalSeconds;

  @JsonPropertyDescription(
      "Language of the canary: python or javascript. Default: the first language the provider serves.")
  private Language language;

  public Integer getIntervalSeconds() {
    return intervalSeconds;
  }

  public void setIntervalSeconds(Integer intervalSeconds) {
    this.intervalSeconds = intervalSeconds;
  }

  public Language getLanguage() {
    return language;
  }

  public void setLanguage(Language language) {
    this.language = language;
  }
}
