package dev.sandboxes.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;

/**
 * Where the code comes from when it is not inline: exactly one of configMapKeyRef and secretKeyRef.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class CodeSource {

  @JsonPropertyDescription("ConfigMap key holding the code.")
  private ConfigMapKeyReference configMapKeyRef;

  @JsonPropertyDescription(
      "Secret key holding the code. The Secret must carry the label sandboxes.dev/execution-input: \"true\", else the execution fails (SecretNotAllowed). Source lines of code from a Secret are never printed in tracebacks.")
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
