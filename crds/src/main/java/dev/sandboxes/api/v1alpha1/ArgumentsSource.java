package dev.sandboxes.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.ValidationRule;

/**
 * Arguments kept in a ConfigMap or a Secret, merged over spec.arguments: exactly one of the two.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(
    value = "has(self.configMapKeyRef) != has(self.secretKeyRef)",
    message = "set exactly one of configMapKeyRef and secretKeyRef")
public class ArgumentsSource {

  @JsonPropertyDescription(
      "ConfigMap key holding a JSON object of arguments, kept verbatim (null values included). The ConfigMap must carry the label sandboxes.dev/execution-input: \"true\", else the execution fails (ConfigMapNotAllowed).")
  private ConfigMapKeyReference configMapKeyRef;

  @JsonPropertyDescription(
      "Secret key holding a JSON object of arguments. The Secret must carry the label sandboxes.dev/execution-input: \"true\", else the execution fails (SecretNotAllowed).")
  private SecretKeyReference secretKeyRef;

  public ConfigMapKeyReference getConfigMapKeyRef() {
    return configMapKeyRef;
  }

  public void setConfigMapKeyRef(ConfigMapKeyReference configMapKeyRef) {
    this.configMapKeyRef = configMapKeyRef;
  }

  public SecretKeyReference getSecretKeyRef() {
    return secretKeyRef;
  }

  public void setSecretKeyRef(SecretKeyReference secretKeyRef) {
    this.secretKeyRef = secretKeyRef;
  }
}
