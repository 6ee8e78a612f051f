package dev.sandboxes.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.kubernetes.api.model.Toleration;
import java.util.List;
import java.util.Map;

/** Settings of a SelfManaged provider: a warm pool of pods in the provider's namespace. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class SelfManagedSpec {

  @JsonPropertyDescription(
      "RuntimeClass of sandbox pods. It must exist, or the provider is not Ready (RuntimeClassNotFound). Default gvisor.")
  @Pattern("^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
  private String runtimeClassName;

  @JsonPropertyDescription(
      "Idle pods kept ready per runtime. 0 creates a pod per execution on demand. Default 2.")
  @Min(0)
  @Max(100)
  private Integer poolSize;

  @JsonPropertyDescription(
      "Most idle and starting pods per runtime when demand is high. The pool grows from poolSize"
          + " towards it by Little's law (arrival rate x measured pod start time) and shrinks back when idle."
          + " Default: poolSize (a fixed pool). Must not be below poolSize.")
  @Min(0)
  @Max(100)
  private Integer maxPoolSize;

  @JsonPropertyDescription("CPU, memory and ephemeral storage of each sandbox pod.")
  private SandboxResources resources;

  @JsonPropertyDescription("Node labels sandbox pods must match.")
  private Map<String, String> nodeSelector;

  @JsonPropertyDescription("Tolerations of sandbox pods.")
  private List<Toleration> tolerations;

  @JsonPropertyDescription("Network egress of sandbox pods. Default: deny all.")
  private EgressSpec egress;

  @JsonPropertyDescription(
      "Processes and threads an execution may have at once (RLIMIT_NPROC of the runner, which the code cannot raise). Applied when the RuntimeClass handler is gVisor (runsc), whose kernel counts per sandbox; with other handlers only the node's kubelet podPidsLimit applies. Default 256.")
  @Min(16)
  @Max(65536)
  private Integer pidsLimit;

  public String getRuntimeClassName() {
    return runtimeClassName;
  }

  public void setRuntimeClassName(String runtimeClassName) {
    this.runtimeClassName = runtimeClassName;
  }

  public Integer getMaxPoolSize() {
    return maxPoolSize;
  }

  public void setMaxPoolSize(Integer maxPoolSize) {
    this.maxPoolSize = maxPoolSize;
  }

  public Integer getPoolSize() {
    return poolSize;
  }

  public void setPoolSize(Integer poolSize) {
    this.poolSize = poolSize;
  }

  public SandboxResources getResources() {
    return resources;
  }

  public void setResources(SandboxResources resources) {
    this.resources = resources;
  }

  public Map<String, String> getNodeSelector() {
    return nodeSelector;
  }

  public void setNodeSelector(Map<String, String> nodeSelector) {
    this.nodeSelector = nodeSelector;
  }

  public List<Toleration> getTolerations() {
    return tolerations;
  }

  public void setTolerations(List<Toleration> tolerations) {
    this.tolerations = tolerations;
  }

  public Integer getPidsLimit() {
    return pidsLimit;
  }

  public void setPidsLimit(Integer pidsLimit) {
    this.pidsLimit = pidsLimit;
  }

  public EgressSpec getEgress() {
    return egress;
  }

  public void setEgress(EgressSpec egress) {
    this.egress = egress;
  }
}
