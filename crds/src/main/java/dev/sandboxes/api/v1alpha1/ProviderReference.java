package dev.sandboxes.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;

/** Reference to a SandboxProvider in the same namespace. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class ProviderReference {

  @JsonPropertyDescription("Name of the SandboxProvider.")
  @Required
  @Pattern("^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
  private String name;

  public String getName() {
    return name;
  }

  public void setName(String name) {
    this.name = name;
  }
}
