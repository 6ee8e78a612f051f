package dev.sandboxes.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;

/** Reference to one key of a ConfigMap in the same namespace. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class ConfigMapKeyReference {

  @JsonPropertyDescription("Name of the ConfigMap.")
  @Required
  @Pattern("^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
  private String name;

  @JsonPropertyDescription("Key within the ConfigMap.")
  @Required
  @Pattern("^[-._a-zA-Z0-9]+$")
  private String key;

  public String getName() {
    return name;
  }

  public void setName(String name) {
    this.name = name;
  }

  public String getKey() {
    return key;
  }

  public void setKey(String key) {
    this.key = key;
  }
}
