package dev.sandboxes.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Pattern;

/** Compute resources of one sandbox pod; requests equal limits. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class SandboxResources {

  @JsonPropertyDescription("CPU limit, e.g. 500m or 1. Default 1.")
  @Pattern("^([0-9]+m|[0-9]+(\\.[0-9]+)?)$")
  private String cpu;

  @JsonPropertyDescription("Memory limit, e.g. 256Mi. Default 256Mi.")
  @Pattern("^[0-9]+(Ki|Mi|Gi)?$")
  private String memory;

  @JsonPropertyDescription(
      "Ephemeral storage limit, which also bounds the writable /tmp. Default 64Mi.")
  @Pattern("^[0-9]+(Ki|Mi|Gi)?$")
  private String ephemeralStorage;

  public String getCpu() {
    return cpu;
  }

  public void setCpu(String cpu) {
    this.cpu = cpu;
  }

  public String getMemory() {
    return memory;
  }

  public void setMemory(String memory) {
    this.memory = memory;
  }

  public String getEphemeralStorage() {
    return ephemeralStorage;
  }

  public void setEphemeralStorage(String ephemeralStorage) {
    this.ephemeralStorage = ephemeralStorage;
  }
}
