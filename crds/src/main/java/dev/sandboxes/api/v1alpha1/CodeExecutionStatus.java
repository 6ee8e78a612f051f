package dev.sandboxes.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.crd.generator.annotation.PreserveUnknownFields;
import io.fabric8.kubernetes.api.model.Condition;
import java.util.ArrayList;
import java.util.List;

/** Observed state and outcome of a CodeExecution. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class CodeExecutionStatus {

  @JsonPropertyDescription("The metadata.generation this status describes.")
  private Long observedGeneration;

  @JsonPropertyDescription("Pending, Running, Succeeded or Failed; computed from the conditions.")
  private Phase phase;

  @JsonPropertyDescription(
      "Accepted, Started and Succeeded (Unknown while running; on failure one of the reasons UserCodeError, TimedOut, OutOfMemory, OutputLimitExceeded, SandboxFailed, Interrupted, ProviderNotFound, ProviderNotReady, InvalidSpec, SecretNotAllowed).")
  private List<Condition> conditions = new ArrayList<>();

  @JsonPropertyDescription("Exit code of the program, when it exited.")
  private Integer exitCode;

  @JsonPropertyDescription(
      "Standard output, UTF-8, at most maxOutputBytes without splitting a character; absent when empty.")
  @JsonInclude(
      JsonInclude.Include
          .NON_EMPTY) // Kubernetes 1.20 rejects "" here as "must be of type string: null"
  private String stdout;

  @JsonPropertyDescription(
      "Standard error, UTF-8, at most maxOutputBytes without splitting a character; absent when empty.")
  @JsonInclude(
      JsonInclude.Include
          .NON_EMPTY) // Kubernetes 1.20 rejects "" here as "must be of type string: null"
  private String stderr;

  @JsonPropertyDescription("Full size of the standard output in bytes.")
  private Long stdoutBytes;

  @JsonPropertyDescription("Full size of the standard error in bytes.")
  private Long stderrBytes;

  @JsonPropertyDescription("Whether stdout was cut at maxOutputBytes.")
  private Boolean stdoutTruncated;

  @JsonPropertyDescription("Whether stderr was cut at maxOutputBytes.")
  private Boolean stderrTruncated;

  @JsonPropertyDescription(
      "Return value of the entrypoint as JSON (Function mode; absent when it returned null or None).")
  @PreserveUnknownFields
  private JsonNode result;

  @JsonPropertyDescription(
      "Files the code left under SANDBOX_OUTPUT_DIR (default /tmp/outputs), sorted by name; their bytes are in the ConfigMap <execution-name>-artifacts, which the execution owns.")
  private List<ArtifactStatus> artifacts;

  @JsonPropertyDescription(
      "Whether files were left out because of the provider's maxArtifacts or maxArtifactBytes; an ArtifactsTruncated event names them.")
  private Boolean artifactsTruncated;

  @JsonPropertyDescription("Which provider and sandbox ran the execution.")
  private SandboxReference sandbox;

  @JsonPropertyDescription("When the execution was accepted (RFC 3339).")
  private String queuedTime;

  @JsonPropertyDescription("When the code was handed to the sandbox (RFC 3339).")
  private String startTime;

  @JsonPropertyDescription("When the execution finished (RFC 3339).")
  private String completionTime;

  @JsonPropertyDescription("Time spent running, in milliseconds.")
  private Long durationMillis;

  @JsonPropertyDescription("durationMillis for humans, e.g. 153ms or 2.41s.")
  private String duration;

  @JsonPropertyDescription("What happened, in one sentence; on failure also what to do.")
  private String message;

  public Long getObservedGeneration() {
    return observedGeneration;
  }

  public void setObservedGeneration(Long observedGeneration) {
    this.observedGeneration = observedGeneration;
  }

  public Phase getPhase() {
    return phase;
  }

  public void setPhase(Phase phase) {
    this.phase = phase;
  }

  public List<Condition> getConditions() {
    return conditions;
  }

  public void setConditions(List<Condition> conditions) {
    this.conditions = conditions;
  }

  public Integer getExitCode() {
    return exitCode;
  }

  public void setExitCode(Integer exitCode) {
    this.exitCode = exitCode;
  }

  public String getStdout() {
    return stdout;
  }

  public void setStdout(String stdout) {
    this.stdout = stdout;
  }

  public String getStderr() {
    return stderr;
  }

  public void setStderr(String stderr) {
    this.stderr = stderr;
  }

  public Long getStdoutBytes() {
    return stdoutBytes;
  }

  public void setStdoutBytes(Long stdoutBytes) {
    this.stdoutBytes = stdoutBytes;
  }

  public Long getStderrBytes() {
    return stderrBytes;
  }

  public void setStderrBytes(Long stderrBytes) {
    this.stderrBytes = stderrBytes;
  }

  public Boolean getStdoutTruncated() {
    return stdoutTruncated;
  }

  public void setStdoutTruncated(Boolean stdoutTruncated) {
    this.stdoutTruncated = stdoutTruncated;
  }

  public Boolean getStderrTruncated() {
    return stderrTruncated;
  }

  public void setStderrTruncated(Boolean stderrTruncated) {
    this.stderrTruncated = stderrTruncated;
  }

  public JsonNode getResult() {
    return result;
  }

  public void setResult(JsonNode result) {
    this.result = result;
  }

  public SandboxReference getSandbox() {
    return sandbox;
  }

  public void setSandbox(SandboxReference sandbox) {
    this.sandbox = sandbox;
  }

  public String getQueuedTime() {
    return queuedTime;
  }

  public void setQueuedTime(String queuedTime) {
    this.queuedTime = queuedTime;
  }

  public String getStartTime() {
    return startTime;
  }

  public void setStartTime(String startTime) {
    this.startTime = startTime;
  }

  public String getCompletionTime() {
    return completionTime;
  }

  public void setCompletionTime(String completionTime) {
    this.completionTime = completionTime;
  }

  public Long getDurationMillis() {
    return durationMillis;
  }

  public void setDurationMillis(Long durationMillis) {
    this.durationMillis = durationMillis;
  }

  public String getDuration() {
    return duration;
  }

  public void setDuration(String duration) {
    this.duration = duration;
  }

  public String getMessage() {
    return message;
  }

  public void setMessage(String message) {
    this.message = message;
  }

  public List<ArtifactStatus> getArtifacts() {
    return artifacts;
  }

  public void setArtifacts(List<ArtifactStatus> artifacts) {
    this.artifacts = artifacts;
  }

  public Boolean getArtifactsTruncated() {
    return artifactsTruncated;
  }

  public void setArtifactsTruncated(Boolean artifactsTruncated) {
    this.artifactsTruncated = artifactsTruncated;
  }
}
