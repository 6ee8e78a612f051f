package dev.sandboxes.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;

/** Settings of a Docker provider: a warm pool of containers on a Docker-API engine. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class DockerSpec {

  @JsonPropertyDescription(
      "Docker API endpoint: unix:///path/to/docker.sock or tcp://host:port. Podman's Docker-compatible socket works; with podman the socket selects the OCI runtime.")
  @Required
  @Pattern("^(unix|tcp)://.+$")
  private String host;

  @JsonPropertyDescription("Secret with ca.crt, tls.crt and tls.key for a TLS tcp:// endpoint.")
  private SecretReference tlsSecretRef;

  @JsonPropertyDescription("OCI runtime the containers use. Default runsc (gVisor).")
  @Pattern("^[A-Za-z0-9_.-]+$")
  private String runtime;

  @JsonPropertyDescription(
      "Idle containers kept ready per runtime. 0 creates a container per execution on demand. Default 2.")
  @Min(0)
  @Max(100)
  private Integer poolSize;

  @JsonPropertyDescription(
      "Memory limit of each container, swap included. Default 268435456 (256 MiB).")
  @Min(16777216)
  private Long memoryBytes;

  @JsonPropertyDescription(
      "Process and thread limit of each container. Default 256 (gVisor counts its own threads).")
  @Min(16)
  @Max(65536)
  private Integer pidsLimit;

  @JsonPropertyDescription("CPU limit of each container in millicores. Default 1000.")
  @Min(100)
  @Max(64000)
  private Integer cpuMillis;

  @JsonPropertyDescription("Docker network of the containers. Default none (no network at all).")
  @Pattern("^[A-Za-z0-9_.-]+$")
  private String network;

  public String getHost() {
    return host;
  }

  public void setHost(String host) {
    this.host = host;
  }

  public SecretReference getTlsSecretRef() {
    return tlsSecretRef;
  }

  public void setTlsSecretRef(SecretReference tlsSecretRef) {
    this.tlsSecretRef = tlsSecretRef;
  }

  public String getRuntime() {
    return runtime;
  }

  public void setRuntime(String runtime) {
    this.runtime = runtime;
  }

  public Integer getPoolSize() {
    return poolSize;
  }

  public void setPoolSize(Integer poolSize) {
    this.poolSize = poolSize;
  }

  public Long getMemoryBytes() {
    return memoryBytes;
  }

  public void setMemoryBytes(Long memoryBytes) {
    this.memoryBytes = memoryBytes;
  }

  public Integer getPidsLimit() {
    return pidsLimit;
  }

  public void setPidsLimit(Integer pidsLimit) {
    this.pidsLimit = pidsLimit;
  }

  public Integer getCpuMillis() {
    return cpuMillis;
  }

  public void setCpuMillis(Integer cpuMillis) {
    this.cpuMillis = cpuMillis;
  }

  public String getNetwork() {
    return network;
  }

  public void setNetwork(String network) {
    this.network = network;
  }
}
