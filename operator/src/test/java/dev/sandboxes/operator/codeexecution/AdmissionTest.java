package dev.sandboxes.operator.codeexecution;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionReason;
import dev.sandboxes.api.v1alpha1.CodeExecutionStatus;
import dev.sandboxes.api.v1alpha1.CodeSource;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.ConfigMapKeyReference;
import dev.sandboxes.api.v1alpha1.ExecutionLimits;
import dev.sandboxes.api.v1alpha1.ExecutionMode;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.OutputLimitAction;
import dev.sandboxes.api.v1alpha1.Phase;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.api.v1alpha1.SecretKeyReference;
import dev.sandboxes.operator.config.OperatorConfig;
import dev.sandboxes.operator.execution.ExecutionRequest;
import dev.sandboxes.operator.provider.ProviderSettings;
import dev.sandboxes.operator.provider.ReferencedObjects;
import dev.sandboxes.operator.testing.FakeReferencedObjects;
import dev.sandboxes.operator.testing.TestResources;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The one admission decision the operator and `run` share: Admitted, Waiting or Invalid. */
@Tag("unit")
class AdmissionTest {

  private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");

  /** What the caller holds for the chosen provider; admission hands it back untouched. */
  private static final String HANDLE = "the-runtime";

  private final FakeReferencedObjects objects = new FakeReferencedObjects();

  @Test
  void aValidExecutionIsAdmittedWithTheProvidersDefaultTimeoutAndOutputLimitAction() {
    ExecutionLimits limits = new ExecutionLimits();
    limits.setDefaultTimeoutSeconds(7);
    limits.setMaxOutputBytes(1000);
    limits.setOutputLimitAction(OutputLimitAction.FAIL);
    CodeExecution cx = execution();

    Admission.Decision<String> decision = Admission.admit(cx, usable(settings(limits)), objects);

    assertThat(decision).isInstanceOf(Admission.Admitted.class);
    Admission.Admitted<String> admitted = (Admission.Admitted<String>) decision;
    assertThat(admitted.provider()).isEqualTo(HANDLE);
    assertThat(admitted.settings().name()).isEqualTo("p");
    ExecutionRequest request = admitted.request();
    assertThat(request.timeout()).isEqualTo(Duration.ofSeconds(7));
    assertThat(request.outputLimitAction()).isEqualTo(OutputLimitAction.FAIL);
    assertThat(request.maxOutputBytes()).isEqualTo(1000);
    assertThat(request.namespace()).isEqualTo("ns");
    assertThat(request.name()).isEqualTo("x");
    assertThat(request.uid()).isEqualTo("uid-x");
    assertThat(request.language()).isEqualTo(Language.PYTHON);
    assertThat(request.mode()).isEqualTo(ExecutionMode.FUNCTION);
    assertThat(request.entrypoint()).isEqualTo("main");
    assertThat(request.code()).isEqualTo(cx.getSpec().getCode());
    assertThat(request.arguments().toString()).isEqualTo("{\"x\":1}");
    assertThat(request.hideSource()).isFalse();
  }

  @Test
  void theExecutionsOwnTimeoutWinsOverTheProvidersDefault() {
    CodeExecution cx = execution();
    cx.getSpec().setTimeoutSeconds(3);

    Admission.Decision<String> decision = Admission.admit(cx, usable(settings(null)), objects);

    ExecutionRequest request = ((Admission.Admitted<String>) decision).request();
    assertThat(request.timeout()).isEqualTo(Duration.ofSeconds(3));
    assertThat(request.outputLimitAction()).isEqualTo(OutputLimitAction.TRUNCATE);
    assertThat(request.maxOutputBytes()).isEqualTo(ProviderSettings.DEFAULT_MAX_OUTPUT_BYTES);
  }

  @Test
  void anInvalidSpecIsInvalidBeforeAnyProviderIsLookedFor() {
    CodeExecution cx = execution();
    cx.getSpec().setLanguage(null);
    Admission.ProviderLookup<String> noLookup =
        ignored -> {
          throw new AssertionError("an invalid spec must not be sent to a provider");
        };

    Admission.Decision<String> decision = Admission.admit(cx, noLookup, objects);

    assertThat(decision).isInstanceOf(Admission.Invalid.class);
    Admission.Invalid<String> invalid = (Admission.Invalid<String>) decision;
    assertThat(invalid.reason()).isEqualTo(CodeExecutionReason.INVALID_SPEC);
    assertThat(invalid.problems()).anySatisfy(p -> assertThat(p).contains("spec.language"));
    CodeExecutionStatus status = invalid.status(cx, T0);
    assertThat(status.getPhase()).isEqualTo(Phase.FAILED);
    assertThat(Conditions.reason(status.getConditions(), ConditionTypes.ACCEPTED))
        .isEqualTo(CodeExecutionReason.INVALID_SPEC.value());
    assertThat(status.getMessage()).startsWith("Invalid spec: ").contains("spec.language");
    assertThat(objects.lookups()).isZero();
  }

  @Test
  void aProviderThatCannotTakeTheExecutionMakesItWaitWithoutReadingItsInputs() {
    Admission.ProviderLookup<String> missing =
        ignored ->
            new Admission.Waiting<>(
                CodeExecutionReason.PROVIDER_NOT_FOUND, "SandboxProvider p does not exist", true);

    Admission.Decision<String> decision = Admission.admit(execution(), missing, objects);

    assertThat(decision)
        .isEqualTo(
            new Admission.Waiting<String>(
                CodeExecutionReason.PROVIDER_NOT_FOUND, "SandboxProvider p does not exist", true));
    assertThat(objects.lookups()).isZero();
  }

  @Test
  void aProviderTheLookupRefusesMakesTheExecutionInvalid() {
    Admission.ProviderLookup<String> other =
        ignored ->
            Admission.Invalid.spec(
                List.of("spec.providerRef names SandboxProvider p but --provider is q"));

    Admission.Decision<String> decision = Admission.admit(execution(), other, objects);

    assertThat(decision).isInstanceOf(Admission.Invalid.class);
    assertThat(((Admission.Invalid<String>) decision).problems())
        .containsExactly("spec.providerRef names SandboxProvider p but --provider is q");
    assertThat(objects.lookups()).isZero();
  }

  @Test
  void aMissingConfigMapOfCodeWaitsForItWithoutTheAdmissionDeadline() {
    CodeExecution cx = execution();
    cx.getSpec().setCode(null);
    CodeSource from = new CodeSource();
    ConfigMapKeyReference ref = new ConfigMapKeyReference();
    ref.setName("scripts");
    ref.setKey("main.py");
    from.setConfigMapKeyRef(ref);
    cx.getSpec().setCodeFrom(from);

    Admission.Decision<String> decision = Admission.admit(cx, usable(settings(null)), objects);

    assertThat(decision).isInstanceOf(Admission.Waiting.class);
    Admission.Waiting<String> waiting = (Admission.Waiting<String>) decision;
    assertThat(waiting.reason()).isEqualTo(CodeExecutionReason.REFERENCE_NOT_FOUND);
    assertThat(waiting.problem())
        .contains("ConfigMap scripts")
        .contains("spec.codeFrom.configMapKeyRef");
    assertThat(waiting.endsAtAdmissionTimeout()).isFalse();

    objects.configMaps().put("scripts", Map.of("main.py", "def main(x):\n    return x\n"));
    assertThat(Admission.admit(cx, usable(settings(null)), objects))
        .isInstanceOf(Admission.Admitted.class);
  }

  @Test
  void codeFromASecretThatDidNotOptInIsRefusedWithItsOwnReason() {
    objects
        .executionSecrets()
        .put("registry", new ReferencedObjects.ExecutionSecret(false, Map.of()));
    CodeExecution cx = codeFromSecret("registry");

    Admission.Decision<String> decision = Admission.admit(cx, usable(settings(null)), objects);

    assertThat(decision).isInstanceOf(Admission.Invalid.class);
    Admission.Invalid<String> refused = (Admission.Invalid<String>) decision;
    assertThat(refused.reason()).isEqualTo(CodeExecutionReason.SECRET_NOT_ALLOWED);
    assertThat(refused.invalidSpec()).isFalse();
    CodeExecutionStatus status = refused.status(cx, T0);
    assertThat(Conditions.reason(status.getConditions(), ConditionTypes.ACCEPTED))
        .isEqualTo(CodeExecutionReason.SECRET_NOT_ALLOWED.value());
    assertThat(Conditions.reason(status.getConditions(), ConditionTypes.SUCCEEDED))
        .isEqualTo(CodeExecutionReason.SECRET_NOT_ALLOWED.value());
    assertThat(status.getMessage())
        .contains("Secret registry")
        .contains("The execution did not run");
  }

  @Test
  void codeFromASecretThatOptedInIsAdmittedWithItsSourceHidden() {
    objects
        .executionSecrets()
        .put(
            "private-code",
            new ReferencedObjects.ExecutionSecret(
                true, Map.of("main.py", "def main(x):\n    return x\n")));

    Admission.Decision<String> decision =
        Admission.admit(codeFromSecret("private-code"), usable(settings(null)), objects);

    ExecutionRequest request = ((Admission.Admitted<String>) decision).request();
    assertThat(request.hideSource()).isTrue();
    assertThat(request.code()).isEqualTo("def main(x):\n    return x\n");
  }

  @Test
  void aSpecBeyondTheProvidersLimitsIsInvalidNamingTheProvider() {
    ExecutionLimits limits = new ExecutionLimits();
    limits.setMaxTimeoutSeconds(20);
    limits.setMaxCodeBytes(10);
    CodeExecution cx = execution();
    cx.getSpec().setTimeoutSeconds(60);

    Admission.Decision<String> decision = Admission.admit(cx, usable(settings(limits)), objects);

    assertThat(decision).isInstanceOf(Admission.Invalid.class);
    Admission.Invalid<String> invalid = (Admission.Invalid<String>) decision;
    assertThat(invalid.reason()).isEqualTo(CodeExecutionReason.INVALID_SPEC);
    assertThat(invalid.problems()).hasSize(2);
    assertThat(invalid.problems())
        .anySatisfy(
            p -> assertThat(p).startsWith("spec.timeoutSeconds is 60 but SandboxProvider p"));
    assertThat(invalid.problems())
        .anySatisfy(p -> assertThat(p).contains("bytes; SandboxProvider p"));
  }

  @Test
  void theAdmissionTimeoutIsTheSpecsOrTheDefault() {
    CodeExecution cx = execution();
    assertThat(Admission.admissionTimeout(cx.getSpec()))
        .isEqualTo(Duration.ofSeconds(CodeExecutionValidator.DEFAULT_ADMISSION_TIMEOUT_SECONDS));
    cx.getSpec().setAdmissionTimeoutSeconds(42);
    assertThat(Admission.admissionTimeout(cx.getSpec())).isEqualTo(Duration.ofSeconds(42));
  }

  private static Admission.ProviderLookup<String> usable(ProviderSettings settings) {
    return ignored -> new Admission.Usable<>(HANDLE, settings);
  }

  private static ProviderSettings settings(ExecutionLimits limits) {
    SandboxProvider provider = TestResources.aDockerProvider("ns", "p");
    provider.getSpec().setLimits(limits);
    return ProviderSettings.of(provider, OperatorConfig.defaults());
  }

  private static CodeExecution execution() {
    CodeExecution cx = TestResources.anExecution("ns", "x", "p");
    cx.getMetadata().setUid("uid-x");
    return cx;
  }

  private static CodeExecution codeFromSecret(String secret) {
    CodeExecution cx = execution();
    cx.getSpec().setCode(null);
    CodeSource from = new CodeSource();
    SecretKeyReference ref = new SecretKeyReference();
    ref.setName(secret);
    ref.setKey("main.py");
    from.setSecretKeyRef(ref);
    cx.getSpec().setCodeFrom(from);
    return cx;
  }
}
