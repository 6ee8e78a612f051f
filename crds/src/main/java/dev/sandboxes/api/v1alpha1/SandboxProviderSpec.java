package dev.sandboxes.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import java.util.List;

/** Where code runs: the backend type, its settings, runtimes and limits. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(
    value = "self.type != 'Docker' || has(self.docker)",
    message = "spec.docker is required when type is Docker")
@ValidationRule(
    value = "self.type != 'Aliyun' || has(self.aliyun)",
    message = "spec.aliyun is required when type is Aliyun")
@ValidationRule(
    value = "self.type != 'E2B' || has(self.e2b)",
    message = "spec.e2b is required when type is E2B")
public class SandboxProviderSpec {

  @JsonPropertyDescription(
      "Backend type: SelfManaged (warm pool of RuntimeClass pods in this namespace), Docker (Docker-API engine), Aliyun (AgentRun code interpreter) or E2B (E2B-protocol service).")
  @Required
  private ProviderType type;

  @JsonPropertyDescription(
      "Languages served and the image or template of each. Default: python and javascript with the type's defaults.")
  @Size(max = 2)
  private List<RuntimeSpec> runtimes;

  @JsonPropertyDescription(
      "Timeouts, output and code caps, and concurrency applied to every execution.")
  private ExecutionLimits limits;

  @JsonPropertyDescription("Settings for type SelfManaged.")
  private SelfManagedSpec selfManaged;

  @JsonPropertyDescription("Settings for type Docker; required then.")
  private DockerSpec docker;

  @JsonPropertyDescription("Settings for type Aliyun; required then.")
  private AliyunSpec aliyun;

  @JsonPropertyDescription("Settings for type E2B; required then.")
  private E2bSpec e2b;

  @JsonPropertyDescription(
      "Opt-in end-to-end test: a tiny execution run through the real backend every intervalSeconds while the provider is Ready, reported as the CanaryPassed condition with its latency. Default: off.")
  private CanarySpec canary;

  public ProviderType getType() {
    return type;
  }

  public void setType(ProviderType type) {
    this.type = type;
  }

  public List<RuntimeSpec> getRuntimes() {
    return runtimes;
  }

  public void setRuntimes(List<RuntimeSpec> runtimes) {
    this.runtimes = runtimes;
  }

  public ExecutionLimits getLimits() {
    return limits;
  }

  public void setLimits(ExecutionLimits limits) {
    this.limits = limits;
  }

  public SelfManagedSpec getSelfManaged() {
    return selfManaged;
  }

  public void setSelfManaged(SelfManagedSpec selfManaged) {
    this.selfManaged = selfManaged;
  }

  public DockerSpec getDocker() {
    return docker;
  }

  public void setDocker(DockerSpec docker) {
    this.docker = docker;
  }

  public AliyunSpec getAliyun() {
    return aliyun;
  }

  public void setAliyun(AliyunSpec aliyun) {
    this.aliyun = aliyun;
  }

  public E2bSpec getE2b() {
    return e2b;
  }

  public void setE2b(E2bSpec e2b) {
    this.e2b = e2b;
  }

  public CanarySpec getCanary() {
    return canary;
  }

  public void setCanary(CanarySpec canary) {
    this.canary = canary;
  }
}
