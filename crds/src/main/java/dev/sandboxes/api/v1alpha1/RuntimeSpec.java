package dev.sandboxes.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;

/** One language a provider serves, with the image or template its sandboxes use. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class RuntimeSpec {

  @JsonPropertyDescription("Language this entry configures: python or javascript.")
  @Required
  private Language language;

  @JsonPropertyDescription(
      "Container image for SelfManaged and Docker providers. It must contain python3 (python) or node (javascript) and a user with uid 1000. Default: the operator's runtime image (localhost/sandbox-runtime:v1 unless the operator is configured otherwise).")
  @Size(max = 512)
  private String image;

  @JsonPropertyDescription(
      "Template name for Aliyun and E2B providers. Default: the provider section's template.")
  @Size(max = 253)
  private String template;

  public Language getLanguage() {
    return language;
  }

  public void setLanguage(Language language) {
    this.language = language;
  }

  public String getImage() {
    return image;
  }

  public void setImage(String image) {
    this.image = image;
  }

  public String getTemplate() {
    return template;
  }

  public void setTemplate(String template) {
    this.template = template;
  }
}
