package dev.sandboxes.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Required;

/** Arguments kept in a Secret, merged over spec.arguments. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class ArgumentsSource {

  @JsonPropertyDescription("Secret key holding a JSON object of arguments. The Secret must carry the label sandboxes.dev/execution-input: \"true\", else the execution fails (SecretNotAllowed).")
  @Required
  private SecretKeyReference secretKeyRef;

  public SecretKeyReference getSecretKeyRef() {
    return secretKeyRef;
  }

  public void setSecretKeyRef(SecretKeyReference secretKeyRef) {
    this.secretKeyRef = secretKeyRef;
  }
}
