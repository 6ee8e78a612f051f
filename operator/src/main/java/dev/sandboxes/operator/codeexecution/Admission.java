package dev.sandboxes.operator.codeexecution;

import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionReason;
import dev.sandboxes.api.v1alpha1.CodeExecutionSpec;
import dev.sandboxes.api.v1alpha1.CodeExecutionStatus;
import dev.sandboxes.api.v1alpha1.ExecutionMode;
import dev.sandboxes.operator.execution.ExecutionRequest;
import dev.sandboxes.operator.provider.ProviderSettings;
import dev.sandboxes.operator.provider.ReferencedObjects;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * Decides whether a pending CodeExecution may run: validate → provider → inputs → validate against
 * the provider → {@link ExecutionRequest}. The operator and {@code run} both decide here, so that a
 * manifest is admitted the same way with or without a cluster.
 *
 * <p>Pure apart from what the caller passes in: the provider comes from a {@link ProviderLookup}
 * and referenced ConfigMaps and Secrets from {@link ReferencedObjects}. Status writes, events and
 * deadlines stay with the caller, which knows whether waiting makes sense.
 */
public final class Admission {

  private Admission() {}

  /**
   * The decision. {@code P} is how the caller holds the chosen provider (its runtime, its backend).
   */
  public sealed interface Decision<P> permits Admitted, Waiting, Invalid {}

  /** What a {@link ProviderLookup} found: a usable provider, or why there is none. */
  public sealed interface ProviderChoice<P> permits Usable, Waiting, Invalid {}

  /** Finds the provider of an execution whose spec is valid. */
  @FunctionalInterface
  public interface ProviderLookup<P> {
    ProviderChoice<P> choose(CodeExecution cx);
  }

  /** A provider that can take executions now, with its effective settings. */
  public record Usable<P>(P provider, ProviderSettings settings) implements ProviderChoice<P> {}

  /** The execution may run on this provider with this request. */
  public record Admitted<P>(P provider, ProviderSettings settings, ExecutionRequest request)
      implements Decision<P> {}

  /**
   * Not yet: something it needs is missing or not ready, and may appear (as in GitOps).
   *
   * @param reason ProviderNotFound, ProviderNotReady or ReferenceNotFound
   * @param problem what is missing, as a clause without a final period (the caller adds how long it
   *     waits)
   * @param endsAtAdmissionTimeout whether spec.admissionTimeoutSeconds ends the wait: a missing
   *     provider's does, a not Ready one's once it is known not Ready (not just unprobed after a
   *     restart), a missing reference's never (it is the user's to create)
   */
  public record Waiting<P>(
      CodeExecutionReason reason, String problem, boolean endsAtAdmissionTimeout)
      implements Decision<P>, ProviderChoice<P> {}

  /**
   * Never: the spec is invalid, or a referenced object refuses to serve as input.
   *
   * @param reason InvalidSpec, SecretNotAllowed or ConfigMapNotAllowed
   */
  public record Invalid<P>(CodeExecutionReason reason, List<String> problems)
      implements Decision<P>, ProviderChoice<P> {

    /** An invalid spec, with each problem naming the field and the fix. */
    public static <P> Invalid<P> spec(List<String> problems) {
      return new Invalid<>(CodeExecutionReason.INVALID_SPEC, problems);
    }

    /**
     * Whether the spec itself is at fault (rather than a referenced object that did not opt in).
     */
    public boolean invalidSpec() {
      return reason == CodeExecutionReason.INVALID_SPEC;
    }

    /** The final status this decision gives the execution. */
    public CodeExecutionStatus status(CodeExecution cx, Instant now) {
      return invalidSpec()
          ? CodeExecutionStatusCalculator.invalid(cx, problems, now)
          : CodeExecutionStatusCalculator.refused(cx, reason, String.join("; ", problems), now);
    }
  }

  /**
   * Decides for a pending execution; the spec immutability check is the caller's (it needs
   * history).
   */
  public static <P> Decision<P> admit(
      CodeExecution cx, ProviderLookup<P> providers, ReferencedObjects objects) {
    List<String> problems = CodeExecutionValidator.validate(cx.getSpec());
    if (!problems.isEmpty()) {
      return Invalid.spec(problems);
    }
    ProviderChoice<P> choice = providers.choose(cx);
    if (choice instanceof Waiting<P> waiting) {
      return waiting;
    }
    if (choice instanceof Invalid<P> invalid) {
      return invalid;
    }
    Usable<P> usable = (Usable<P>) choice;
    ExecutionInputs.Resolution resolution =
        ExecutionInputs.resolve(cx.getMetadata().getNamespace(), cx.getSpec(), objects);
    if (resolution instanceof ExecutionInputs.Missing missing) {
      return new Waiting<>(CodeExecutionReason.REFERENCE_NOT_FOUND, missing.message(), false);
    }
    if (resolution instanceof ExecutionInputs.Invalid invalid) {
      return Invalid.spec(List.of(invalid.message()));
    }
    if (resolution instanceof ExecutionInputs.NotAllowed notAllowed) {
      return new Invalid<>(notAllowed.reason(), List.of(notAllowed.message()));
    }
    ExecutionInputs inputs = ((ExecutionInputs.Resolved) resolution).inputs();
    problems =
        CodeExecutionValidator.validateAgainst(cx.getSpec(), usable.settings(), inputs.code());
    if (!problems.isEmpty()) {
      return Invalid.spec(problems);
    }
    return new Admitted<>(
        usable.provider(), usable.settings(), request(cx, usable.settings(), inputs));
  }

  /** The execution's time limit on this provider: its own, or the provider's default. */
  public static Duration effectiveTimeout(CodeExecutionSpec spec, ProviderSettings settings) {
    return Duration.ofSeconds(
        spec.getTimeoutSeconds() != null
            ? spec.getTimeoutSeconds()
            : settings.limits().defaultTimeoutSeconds());
  }

  /**
   * How long the execution may wait for its provider: spec.admissionTimeoutSeconds or the default.
   */
  public static Duration admissionTimeout(CodeExecutionSpec spec) {
    return Duration.ofSeconds(
        spec.getAdmissionTimeoutSeconds() != null
            ? spec.getAdmissionTimeoutSeconds()
            : CodeExecutionValidator.DEFAULT_ADMISSION_TIMEOUT_SECONDS);
  }

  private static ExecutionRequest request(
      CodeExecution cx, ProviderSettings settings, ExecutionInputs inputs) {
    CodeExecutionSpec spec = cx.getSpec();
    ProviderSettings.Limits limits = settings.limits();
    return new ExecutionRequest(
        cx.getMetadata().getNamespace(),
        cx.getMetadata().getName(),
        cx.getMetadata().getUid(),
        spec.getLanguage(),
        spec.getMode() == null ? ExecutionMode.FUNCTION : spec.getMode(),
        spec.getEntrypoint() == null ? "main" : spec.getEntrypoint(),
        inputs.code(),
        inputs.arguments(),
        effectiveTimeout(spec, settings),
        limits.maxOutputBytes(),
        inputs.codeFromSecret(),
        limits.artifactLimits(),
        limits.outputLimitAction());
  }
}
