package dev.sandboxes.operator.execution;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sandboxes.api.v1alpha1.ExecutionMode;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.OutputLimitAction;
import dev.sandboxes.operator.runner.ArtifactLimits;
import dev.sandboxes.operator.runner.RunnerProgram;
import java.time.Duration;

/**
 * Everything a backend needs to run one execution: resolved code and arguments, effective limits,
 * and identity (for labels and idempotency keys). Built once, by admission, when the spec is valid.
 *
 * @param uid metadata.uid of the CodeExecution: the idempotency key and sandbox label
 * @param arguments a JSON object, arguments from the spec with argumentsFrom merged over them
 * @param hideSource the code came from a Secret: the runner must not print its source lines
 *     (tracebacks, syntax errors), so that it never reaches status.stderr
 * @param timeout the effective time limit: spec.timeoutSeconds or the provider's default
 * @param artifacts the output directory and the provider's artifact limits
 * @param outputLimitAction what output beyond maxOutputBytes does to the verdict, fixed at
 *     admission so that the final status needs no second look at the provider
 */
public record ExecutionRequest(
    String namespace,
    String name,
    String uid,
    Language language,
    ExecutionMode mode,
    String entrypoint,
    String code,
    JsonNode arguments,
    Duration timeout,
    int maxOutputBytes,
    boolean hideSource,
    ArtifactLimits artifacts,
    OutputLimitAction outputLimitAction) {

  public ExecutionRequest {
    if (artifacts == null) {
      artifacts = ArtifactLimits.DEFAULT;
    }
    if (outputLimitAction == null) {
      outputLimitAction = OutputLimitAction.TRUNCATE;
    }
  }

  /** A request with the default artifact limits, whose cut output does not fail the run. */
  public ExecutionRequest(
      String namespace,
      String name,
      String uid,
      Language language,
      ExecutionMode mode,
      String entrypoint,
      String code,
      JsonNode arguments,
      Duration timeout,
      int maxOutputBytes,
      boolean hideSource) {
    this(
        namespace,
        name,
        uid,
        language,
        mode,
        entrypoint,
        code,
        arguments,
        timeout,
        maxOutputBytes,
        hideSource,
        ArtifactLimits.DEFAULT,
        OutputLimitAction.TRUNCATE);
  }

  /** A request for inline or ConfigMap code, whose source lines tracebacks may show. */
  public ExecutionRequest(
      String namespace,
      String name,
      String uid,
      Language language,
      ExecutionMode mode,
      String entrypoint,
      String code,
      JsonNode arguments,
      Duration timeout,
      int maxOutputBytes) {
    this(
        namespace,
        name,
        uid,
        language,
        mode,
        entrypoint,
        code,
        arguments,
        timeout,
        maxOutputBytes,
        false);
  }

  /** The envelope line for this request with a fresh nonce. */
  public Envelope newEnvelope() {
    String nonce = RunnerProgram.newNonce();
    return new Envelope(
        nonce,
        RunnerProgram.envelope(nonce, mode, entrypoint, code, arguments, hideSource, artifacts));
  }

  /** "namespace/name", for log lines. */
  public String displayName() {
    return namespace + "/" + name;
  }

  /** An envelope and the nonce that authenticates the runner's records. */
  public record Envelope(String nonce, byte[] line) {}
}
