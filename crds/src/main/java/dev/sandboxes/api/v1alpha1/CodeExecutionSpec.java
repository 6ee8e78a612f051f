package dev.sandboxes.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.crd.generator.annotation.PreserveUnknownFields;
import io.fabric8.crd.generator.annotation.SchemaFrom;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import java.util.Map;

/** What runs: language, code, arguments and limits. Immutable once created. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(
    value = "self == oldSelf",
    message = "spec is immutable; create a new CodeExecution instead")
@ValidationRule(
    value = "has(self.code) != has(self.codeFrom)",
    message = "set exactly one of spec.code and spec.codeFrom")
@ValidationRule(
    value = "!has(self.arguments) || !has(self.argumentsJSON)",
    message = "set at most one of spec.arguments and spec.argumentsJSON")
public class CodeExecutionSpec {

  @JsonPropertyDescription(
      "SandboxProvider to run on. Default: the provider of this namespace annotated sandboxes.dev/is-default-provider=true.")
  private ProviderReference providerRef;

  @JsonPropertyDescription("python or javascript.")
  @Required
  private Language language;

  @JsonPropertyDescription("Inline source code. Set exactly one of code and codeFrom.")
  @Size(max = 262144)
  private String code;

  @JsonPropertyDescription("ConfigMap or Secret key holding the code.")
  private CodeSource codeFrom;

  @JsonPropertyDescription(
      "Function (default) calls the entrypoint with the arguments and records its return value as JSON; Script runs the code as a program.")
  private ExecutionMode mode;

  @JsonPropertyDescription("Function called in Function mode. Default main.")
  @Pattern("^[A-Za-z_$][A-Za-z0-9_$]{0,127}$")
  private String entrypoint;

  @JsonPropertyDescription(
      "Arguments as a JSON object: Python receives them as keyword arguments (main(**arguments)), JavaScript as one object (main(arguments)). Delivered as data, never pasted into code.")
  @PreserveUnknownFields
  @SchemaFrom(type = FreeFormObject.class)
  private Map<String, Object> arguments;

  @JsonPropertyDescription(
      "Arguments as the text of a JSON object, kept verbatim: use it for null values, which client-side kubectl apply drops from spec.arguments (kubectl create and kubectl apply --server-side keep them). Example: '{\"a\": true, \"nothing\": null}'. Set at most one of arguments and argumentsJSON.")
  @JsonProperty("argumentsJSON")
  @Size(max = 524288)
  private String argumentsJSON;

  @JsonPropertyDescription(
      "A ConfigMap or Secret key holding a JSON object, merged over arguments (or argumentsJSON).")
  private ArgumentsSource argumentsFrom;

  @JsonPropertyDescription(
      "Wall-clock limit in seconds. Default and maximum come from the provider's limits.")
  @Min(1)
  @Max(86400)
  private Integer timeoutSeconds;

  @JsonPropertyDescription(
      "How long the execution may wait, from its creation, while its provider is missing or not"
          + " Ready (for example because its sandboxes fail to start) before it ends as SandboxFailed without running."
          + " Waiting in the queue of a Ready provider does not end it. Default 300.")
  @Min(1)
  @Max(86400)
  private Integer admissionTimeoutSeconds;

  @JsonPropertyDescription(
      "Delete this CodeExecution this many seconds after it finished. Default: keep it.")
  @Min(0)
  @Max(31536000)
  private Integer ttlSecondsAfterFinished;

  public ProviderReference getProviderRef() {
    return providerRef;
  }

  public void setProviderRef(ProviderReference providerRef) {
    this.providerRef = providerRef;
  }

  public Language getLanguage() {
    return language;
  }

  public void setLanguage(Language language) {
    this.language = language;
  }

  public String getCode() {
    return code;
  }

  public void setCode(String code) {
    this.code = code;
  }

  public CodeSource getCodeFrom() {
    return codeFrom;
  }

  public void setCodeFrom(CodeSource codeFrom) {
    this.codeFrom = codeFrom;
  }

  public ExecutionMode getMode() {
    return mode;
  }

  public void setMode(ExecutionMode mode) {
    this.mode = mode;
  }

  public String getEntrypoint() {
    return entrypoint;
  }

  public void setEntrypoint(String entrypoint) {
    this.entrypoint = entrypoint;
  }

  public Map<String, Object> getArguments() {
    return arguments;
  }

  public void setArguments(Map<String, Object> arguments) {
    this.arguments = arguments;
  }

  @JsonProperty("argumentsJSON")
  public String getArgumentsJSON() {
    return argumentsJSON;
  }

  @JsonProperty("argumentsJSON")
  public void setArgumentsJSON(String argumentsJSON) {
    this.argumentsJSON = argumentsJSON;
  }

  public ArgumentsSource getArgumentsFrom() {
    return argumentsFrom;
  }

  public void setArgumentsFrom(ArgumentsSource argumentsFrom) {
    this.argumentsFrom = argumentsFrom;
  }

  public Integer getTimeoutSeconds() {
    return timeoutSeconds;
  }

  public void setTimeoutSeconds(Integer timeoutSeconds) {
    this.timeoutSeconds = timeoutSeconds;
  }

  public Integer getAdmissionTimeoutSeconds() {
    return admissionTimeoutSeconds;
  }

  public void setAdmissionTimeoutSeconds(Integer admissionTimeoutSeconds) {
    this.admissionTimeoutSeconds = admissionTimeoutSeconds;
  }

  public Integer getTtlSecondsAfterFinished() {
    return ttlSecondsAfterFinished;
  }

  public void setTtlSecondsAfterFinished(Integer ttlSecondsAfterFinished) {
    this.ttlSecondsAfterFinished = ttlSecondsAfterFinished;
  }
}
