package dev.sandboxes.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;

/** One file an execution left in its output directory, and where its bytes are stored. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class ArtifactStatus {

  @JsonPropertyDescription(
      "Path of the file relative to the output directory, with / between directories.")
  private String name;

  @JsonPropertyDescription("Size of the file in bytes.")
  private Long sizeBytes;

  @JsonPropertyDescription("SHA-256 of the file, lower-case hex.")
  private String sha256;

  @JsonPropertyDescription(
      "Media type guessed from the file name's extension, e.g. image/png; application/octet-stream when unknown.")
  private String contentType;

  @JsonPropertyDescription("The ConfigMap and binaryData key holding the file's bytes.")
  private ConfigMapKeyReference configMapKeyRef;

  public ArtifactStatus() {}

  public ArtifactStatus(
      String name, long sizeBytes, String sha256, String contentType, ConfigMapKeyReference ref) {
    this.name = name;
    this.sizeBytes = sizeBytes;
    this.sha256 = sha256;
    this.contentType = contentType;
    this.configMapKeyRef = ref;
  }

  public String getName() {
    return name;
  }

  public void setName(String name) {
    this.name = name;
  }

  public Long getSizeBytes() {
    return sizeBytes;
  }

  public void setSizeBytes(Long sizeBytes) {
    this.sizeBytes = sizeBytes;
  }

  public String getSha256() {
    return sha256;
  }

  public void setSha256(String sha256) {
    this.sha256 = sha256;
  }

  public String getContentType() {
    return contentType;
  }

  public void setContentType(String contentType) {
    this.contentType = contentType;
  }

  public ConfigMapKeyReference getConfigMapKeyRef() {
    return configMapKeyRef;
  }

  public void setConfigMapKeyRef(ConfigMapKeyReference configMapKeyRef) {
    this.configMapKeyRef = configMapKeyRef;
  }
}
