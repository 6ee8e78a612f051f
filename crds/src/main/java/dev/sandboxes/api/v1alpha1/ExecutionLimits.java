package dev.sandboxes.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;

/** Limits the provider applies to every CodeExecution that runs on it. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class ExecutionLimits {

  @JsonPropertyDescription(
      "Wall-clock limit for executions that set no timeoutSeconds. Default 10.")
  @Min(1)
  @Max(86400)
  private Integer defaultTimeoutSeconds;

  @JsonPropertyDescription(
      "Largest timeoutSeconds an execution may ask for; larger requests are rejected, never clamped. Default 300 (Aliyun: 30, the service's own limit).")
  @Min(1)
  @Max(86400)
  private Integer maxTimeoutSeconds;

  @JsonPropertyDescription(
      "Bytes of stdout and of stderr kept in the execution status, each. Output beyond it is counted but not kept. Default 65536.")
  @Min(1024)
  @Max(262144)
  private Integer maxOutputBytes;

  @JsonPropertyDescription("Largest code an execution may carry, in UTF-8 bytes. Default 262144.")
  @Min(1)
  @Max(262144)
  private Integer maxCodeBytes;

  @JsonPropertyDescription(
      "Executions running at once on this provider; further executions wait in Pending (WaitingForSandbox), oldest first. Default: no limit besides the sandbox pool.")
  @Min(1)
  @Max(100000)
  private Integer maxConcurrentExecutions;

  @JsonPropertyDescription(
      "Most files collected from an execution's output directory (SANDBOX_OUTPUT_DIR, /tmp/outputs); further files are left out, the execution still succeeds and status.artifactsTruncated says so. 0 collects none. Default 10, at most 100.")
  @Min(0)
  @Max(100)
  private Integer maxArtifacts;

  @JsonPropertyDescription(
      "Most bytes of files collected from an execution's output directory, in total. The files are stored in one ConfigMap, which Kubernetes limits to 1 MiB. Default 1048576 (1 MiB), which is also the maximum.")
  @Min(0)
  @Max(1048576)
  private Integer maxArtifactBytes;

  @JsonPropertyDescription(
      "What exceeding maxOutputBytes does: Truncate (default) keeps the first maxOutputBytes and succeeds; Fail also fails the execution with reason OutputLimitExceeded.")
  private OutputLimitAction outputLimitAction;

  public Integer getDefaultTimeoutSeconds() {
    return defaultTimeoutSeconds;
  }

  public void setDefaultTimeoutSeconds(Integer defaultTimeoutSeconds) {
    this.defaultTimeoutSeconds = defaultTimeoutSeconds;
  }

  public Integer getMaxTimeoutSeconds() {
    return maxTimeoutSeconds;
  }

  public void setMaxTimeoutSeconds(Integer maxTimeoutSeconds) {
    this.maxTimeoutSeconds = maxTimeoutSeconds;
  }

  public Integer getMaxOutputBytes() {
    return maxOutputBytes;
  }

  public void setMaxOutputBytes(Integer maxOutputBytes) {
    this.maxOutputBytes = maxOutputBytes;
  }

  public Integer getMaxCodeBytes() {
    return maxCodeBytes;
  }

  public void setMaxCodeBytes(Integer maxCodeBytes) {
    this.maxCodeBytes = maxCodeBytes;
  }

  public Integer getMaxArtifacts() {
    return maxArtifacts;
  }

  public void setMaxArtifacts(Integer maxArtifacts) {
    this.maxArtifacts = maxArtifacts;
  }

  public Integer getMaxArtifactBytes() {
    return maxArtifactBytes;
  }

  public void setMaxArtifactBytes(Integer maxArtifactBytes) {
    this.maxArtifactBytes = maxArtifactBytes;
  }

  public Integer getMaxConcurrentExecutions() {
    return maxConcurrentExecutions;
  }

  public void setMaxConcurrentExecutions(Integer maxConcurrentExecutions) {
    this.maxConcurrentExecutions = maxConcurrentExecutions;
  }

  public OutputLimitAction getOutputLimitAction() {
    return outputLimitAction;
  }

  public void setOutputLimitAction(OutputLimitAction outputLimitAction) {
    this.outputLimitAction = outputLimitAction;
  }
}
