package dev.sandboxes.operator.backend;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.api.v1alpha1.SandboxProviderReason;
import dev.sandboxes.api.v1alpha1.SandboxProviderSpec;
import dev.sandboxes.operator.config.OperatorConfig;
import dev.sandboxes.operator.provider.BackendContext;
import dev.sandboxes.operator.provider.ProviderSettings;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** When start failures make a backend "failing", when it stops, and what its message may hold. */
@Tag("unit")
class StartFailuresTest {

  private static final String RLIMITS =
      "runc create failed: container %s: error setting rlimits: operation not permitted";

  private final AtomicInteger flips = new AtomicInteger();
  private final StartFailures failures =
      new StartFailures(text -> text.replace("s3cr3t-token", "***"), flips::incrementAndGet);

  @Test
  void threeIdenticalFailuresInARowMakeItFailingEvenWhenIdsDiffer() {
    failures.failed(RLIMITS.formatted("0123456789abcdef01"), "check containers.conf");
    failures.failed(RLIMITS.formatted("fedcba987654321000"), "check containers.conf");
    assertThat(failures.current()).isEmpty();
    assertThat(flips).hasValue(0);
    failures.failed(RLIMITS.formatted("aaaaaaaaaaaaaaaaaa"), "check containers.conf");
    assertThat(failures.current())
        .hasValueSatisfying(
            f -> {
              assertThat(f.reason()).isEqualTo(SandboxProviderReason.SANDBOX_START_FAILING);
              assertThat(f.error())
                  .contains("aaaaaaaaaaaaaaaaaa")
                  .contains("error setting rlimits");
              assertThat(f.describe()).isEqualTo(f.error() + ". check containers.conf");
            });
    assertThat(flips).as("told once, at the flip").hasValue(1);
    failures.failed(RLIMITS.formatted("bbbbbbbbbbbbbbbbbb"), "check containers.conf");
    assertThat(flips).hasValue(1);
  }

  @Test
  void differentCausesDoNotAddUp() {
    failures.failed("connection refused", null);
    failures.failed("error setting rlimits", null);
    failures.failed("connection refused", null);
    failures.failed("error setting rlimits", null);
    assertThat(failures.current()).isEmpty();
    assertThat(failures.inARow()).isEqualTo(1);
  }

  @Test
  void aStartThatWorksEndsItAndSaysSo() {
    for (int i = 0; i < StartFailures.THRESHOLD; i++) {
      failures.failed("exec: \"sleep\": executable file not found in $PATH", null);
    }
    assertThat(failures.current()).isPresent();
    failures.succeeded();
    assertThat(failures.current()).isEmpty();
    assertThat(flips).hasValue(2);
    failures.succeeded();
    assertThat(flips).as("no news, no call").hasValue(2);
  }

  @Test
  void secretValuesNeverReachTheMessage() {
    for (int i = 0; i < StartFailures.THRESHOLD; i++) {
      failures.failed("401: token s3cr3t-token rejected", null);
    }
    assertThat(failures.current().orElseThrow().error()).isEqualTo("401: token *** rejected");
  }

  @Test
  void aTrialStartIsNotDueAtOnceAfterTheFlipNorWhileHealthy() {
    assertThat(failures.trialDue()).isFalse();
    for (int i = 0; i < StartFailures.THRESHOLD; i++) {
      failures.failed("envd does not answer", null);
    }
    assertThat(failures.trialDue()).as("first trial after %s", StartFailures.FIRST_TRIAL).isFalse();
  }

  @Test
  void theBackendContextRedactsEveryReferencedSecretValue() {
    SandboxProviderSpec spec = new SandboxProviderSpec();
    spec.setType(ProviderType.DOCKER);
    SandboxProvider provider = new SandboxProvider();
    provider.setMetadata(new ObjectMetaBuilder().withNamespace("ns").withName("p").build());
    provider.setSpec(spec);
    OperatorConfig config = OperatorConfig.defaults();
    BackendContext context =
        new BackendContext(
            "uid",
            ProviderSettings.of(provider, config),
            spec,
            Map.of("tls", Map.of("tls.key", "-----BEGIN KEY-----abc", "short", "ab")),
            config,
            null);
    assertThat(context.redact("engine said -----BEGIN KEY-----abc ab"))
        .isEqualTo("engine said *** ab");
  }
}
