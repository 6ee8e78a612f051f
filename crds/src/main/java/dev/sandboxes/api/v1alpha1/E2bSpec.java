package dev.sandboxes.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;

/** Settings of an E2B provider: any service that speaks the E2B sandbox API. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class E2bSpec {

  @JsonPropertyDescription("Secret key holding the API key (X-API-Key).")
  @Required
  private SecretKeyReference apiKeySecretRef;

  @JsonPropertyDescription("API base URL. Default https://api.<domain>.")
  @Pattern("^https?://.+$")
  private String apiUrl;

  @JsonPropertyDescription("Sandbox domain. Default e2b.app.")
  @Pattern("^[A-Za-z0-9.-]+(:[0-9]+)?$")
  private String domain;

  @JsonPropertyDescription("Sandbox template. Default code-interpreter-v1.")
  @Pattern("^[A-Za-z0-9_.-]{1,128}$")
  private String template;

  @JsonPropertyDescription(
      "OS user envd runs the runner as (sent as the Basic user of envd calls). Default: none sent, so envd (0.4.0 or newer) uses the template's default user; older envd gets 'user', as the E2B SDKs do.")
  @Pattern("^[a-z_][a-z0-9_-]{0,31}$")
  private String user;

  public SecretKeyReference getApiKeySecretRef() {
    return apiKeySecretRef;
  }

  public void setApiKeySecretRef(SecretKeyReference apiKeySecretRef) {
    this.apiKeySecretRef = apiKeySecretRef;
  }

  public String getApiUrl() {
    return apiUrl;
  }

  public void setApiUrl(String apiUrl) {
    this.apiUrl = apiUrl;
  }

  public String getDomain() {
    return domain;
  }

  public void setDomain(String domain) {
    this.domain = domain;
  }

  public String getTemplate() {
    return template;
  }

  public void setTemplate(String template) {
    this.template = template;
  }

  public String getUser() {
    return user;
  }

  public void setUser(String user) {
    this.user = user;
  }
}
