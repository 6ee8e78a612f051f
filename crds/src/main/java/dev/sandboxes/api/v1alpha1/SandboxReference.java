package dev.sandboxes.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;

/** Which sandbox ran an execution. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class SandboxReference {

  @JsonPropertyDescription("Name of the SandboxProvider.")
  private String provider;

  @JsonPropertyDescription("Type of the provider.")
  private ProviderType type;

  @JsonPropertyDescription("Sandbox identifier: pod name, container id or remote sandbox id.")
  private String id;

  public String getProvider() {
    return provider;
  }

  public void setProvider(String provider) {
    this.provider = provider;
  }

  public ProviderType getType() {
    return type;
  }

  public void setType(ProviderType type) {
    this.type = type;
  }

  public String getId() {
    return id;
  }

  public void setId(String id) {
    this.id = id;
  }
}
