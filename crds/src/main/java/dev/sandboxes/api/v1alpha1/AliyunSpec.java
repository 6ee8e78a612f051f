package dev.sandboxes.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;

/** Settings of an Aliyun provider: the Function Compute AgentRun code interpreter. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class AliyunSpec {

  @JsonPropertyDescription("Secret with the keys accessKeyId, accessKeySecret and accountId.")
  @Required
  private SecretReference credentialsSecretRef;

  @JsonPropertyDescription("Region id. Default cn-hangzhou.")
  @Pattern("^[a-z0-9-]+$")
  private String region;

  @JsonPropertyDescription(
      "Code-interpreter template to use. Default: one template per language created once by the operator and reused.")
  @Pattern("^[A-Za-z0-9_.-]{1,128}$")
  private String templateName;

  @JsonPropertyDescription(
      "Control-plane endpoint override (host[:port] or URL). Default agentrun.<region>.aliyuncs.com.")
  private String controlEndpoint;

  @JsonPropertyDescription(
      "Data-plane base URL override. Default https://<accountId>-ram.agentrun-data.<region>.aliyuncs.com.")
  private String dataEndpoint;

  @JsonPropertyDescription(
      "Network access of the sandboxes. Deny (default): the operator's template is created with networkMode PRIVATE and a named template whose networkMode is not PRIVATE makes the provider not Ready (TemplateNotPrivate). Internet: public egress, the operator's template is created with networkMode PUBLIC and any template is accepted.")
  private AliyunEgress egress;

  public SecretReference getCredentialsSecretRef() {
    return credentialsSecretRef;
  }

  public void setCredentialsSecretRef(SecretReference credentialsSecretRef) {
    this.credentialsSecretRef = credentialsSecretRef;
  }

  public String getRegion() {
    return region;
  }

  public void setRegion(String region) {
    this.region = region;
  }

  public String getTemplateName() {
    return templateName;
  }

  public void setTemplateName(String templateName) {
    this.templateName = templateName;
  }

  public String getControlEndpoint() {
    return controlEndpoint;
  }

  public void setControlEndpoint(String controlEndpoint) {
    this.controlEndpoint = controlEndpoint;
  }

  public String getDataEndpoint() {
    return dataEndpoint;
  }

  public void setDataEndpoint(String dataEndpoint) {
    this.dataEndpoint = dataEndpoint;
  }

  public AliyunEgress getEgress() {
    return egress;
  }

  public void setEgress(AliyunEgress egress) {
    this.egress = egress;
  }
}
