package dev.sandboxes.api.v1alpha1;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The reasons' API spellings are part of the API (users, alerts and the README match on them): this
 * pins them, so that renaming a constant cannot change what a condition or an event says.
 */
class ReasonsTest {

  @Test
  void codeExecutionReasonsKeepTheirSpellings() {
    assertThat(spellings(CodeExecutionReason.values()))
        .containsExactlyInAnyOrderEntriesOf(
            Map.ofEntries(
                Map.entry("VALID", "Valid"),
                Map.entry("INVALID_SPEC", "InvalidSpec"),
                Map.entry("PROVIDER_NOT_FOUND", "ProviderNotFound"),
                Map.entry("PROVIDER_NOT_READY", "ProviderNotReady"),
                Map.entry("REFERENCE_NOT_FOUND", "ReferenceNotFound"),
                Map.entry("SECRET_NOT_ALLOWED", "SecretNotAllowed"),
                Map.entry("CONFIG_MAP_NOT_ALLOWED", "ConfigMapNotAllowed"),
                Map.entry("WAITING_FOR_SANDBOX", "WaitingForSandbox"),
                Map.entry("SANDBOX_ASSIGNED", "SandboxAssigned"),
                Map.entry("STARTED", "Started"),
                Map.entry("RUNNING", "Running"),
                Map.entry("COMPLETED", "Completed"),
                Map.entry("USER_CODE_ERROR", "UserCodeError"),
                Map.entry("TIMED_OUT", "TimedOut"),
                Map.entry("OUT_OF_MEMORY", "OutOfMemory"),
                Map.entry("OUTPUT_LIMIT_EXCEEDED", "OutputLimitExceeded"),
                Map.entry("SANDBOX_FAILED", "SandboxFailed"),
                Map.entry("INTERRUPTED", "Interrupted"),
                Map.entry("ARTIFACTS_TRUNCATED", "ArtifactsTruncated"),
                Map.entry("ARTIFACTS_SKIPPED", "ArtifactsSkipped"),
                Map.entry("ARTIFACTS_NOT_STORED", "ArtifactsNotStored"),
                Map.entry("SPEC_CHANGE_IGNORED", "SpecChangeIgnored")));
  }

  @Test
  void sandboxProviderReasonsKeepTheirSpellings() {
    assertThat(spellings(SandboxProviderReason.values()))
        .containsExactlyInAnyOrderEntriesOf(
            Map.ofEntries(
                Map.entry("PROBING", "Probing"),
                Map.entry("BACKEND_REACHABLE", "BackendReachable"),
                Map.entry("CREDENTIALS_MISSING", "CredentialsMissing"),
                Map.entry("CREDENTIALS_REJECTED", "CredentialsRejected"),
                Map.entry("BACKEND_UNREACHABLE", "BackendUnreachable"),
                Map.entry("RUNTIME_CLASS_NOT_FOUND", "RuntimeClassNotFound"),
                Map.entry("RUNTIME_NOT_FOUND", "RuntimeNotFound"),
                Map.entry("IMAGE_NOT_FOUND", "ImageNotFound"),
                Map.entry("IMAGE_PULL_FAILED", "ImagePullFailed"),
                Map.entry("SANDBOX_POD_FAILED", "SandboxPodFailed"),
                Map.entry("SANDBOX_START_FAILING", "SandboxStartFailing"),
                Map.entry("TEMPLATE_NOT_FOUND", "TemplateNotFound"),
                Map.entry("TEMPLATE_NOT_PRIVATE", "TemplateNotPrivate"),
                Map.entry("INVALID_SPEC", "InvalidSpec"),
                Map.entry("POLICY_VIOLATION", "PolicyViolation"),
                Map.entry("EGRESS_UNSUPPORTED", "EgressUnsupported"),
                Map.entry("CANARY_SUCCEEDED", "CanarySucceeded"),
                Map.entry("CANARY_FAILED", "CanaryFailed"),
                Map.entry("CANARY_PENDING", "CanaryPending"),
                Map.entry("PROVIDER_READY", "ProviderReady"),
                Map.entry("PROBE_FAILED", "ProbeFailed"),
                Map.entry("SANDBOX_START_RECOVERED", "SandboxStartRecovered"),
                Map.entry("INVALID_PROVIDER_SPEC", "InvalidProviderSpec"),
                Map.entry("POOL_RESIZED", "PoolResized")));
  }

  @Test
  void everyReasonIsOneCamelCaseWordUsedSomewhereAndItsOwnToString() {
    for (Reason reason : all()) {
      assertThat(reason.value()).as("%s", reason).matches("[A-Z][A-Za-z]+");
      assertThat(reason.onConditions() || reason.onEvents())
          .as("%s appears somewhere", reason)
          .isTrue();
      assertThat(reason).hasToString(reason.value());
    }
  }

  @Test
  void aConditionReasonIsFoundByItsSpellingOnlyWhenItIsOne() {
    assertThat(CodeExecutionReason.ofCondition("TimedOut")).contains(CodeExecutionReason.TIMED_OUT);
    assertThat(CodeExecutionReason.ofCondition("Started")).as("an event reason only").isEmpty();
    assertThat(CodeExecutionReason.ofCondition("Queued")).as("never produced, dropped").isEmpty();
    assertThat(CodeExecutionReason.ofCondition(null)).isEmpty();
    assertThat(CodeExecutionReason.TIMED_OUT.is("TimedOut")).isTrue();
    assertThat(CodeExecutionReason.TIMED_OUT.is(null)).isFalse();
  }

  private static List<Reason> all() {
    return Stream.<Reason>concat(
            Arrays.stream(CodeExecutionReason.values()),
            Arrays.stream(SandboxProviderReason.values()))
        .toList();
  }

  private static <E extends Enum<E> & Reason> Map<String, String> spellings(E[] reasons) {
    return Arrays.stream(reasons).collect(Collectors.toMap(Enum::name, Reason::value, (a, b) -> a));
  }
}
