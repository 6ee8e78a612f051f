package dev.sandboxes.operator.sandboxprovider;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sandboxes.api.v1alpha1.AliyunSpec;
import dev.sandboxes.api.v1alpha1.EgressPolicy;
import dev.sandboxes.api.v1alpha1.EgressSpec;
import dev.sandboxes.api.v1alpha1.ExecutionLimits;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.api.v1alpha1.RuntimeSpec;
import dev.sandboxes.api.v1alpha1.SandboxProviderSpec;
import dev.sandboxes.api.v1alpha1.SelfManagedSpec;
import dev.sandboxes.operator.provider.ProviderSettings;
import dev.sandboxes.operator.testing.TestResources;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class SandboxProviderValidatorTest {

  @Test
  void aDockerProviderIsValid() {
    assertThat(
            SandboxProviderValidator.validate(TestResources.aDockerProvider("ns", "p").getSpec()))
        .isEmpty();
  }

  @Test
  void theTypeSectionIsRequired() {
    SandboxProviderSpec spec = new SandboxProviderSpec();
    spec.setType(ProviderType.ALIYUN);
    assertThat(SandboxProviderValidator.validate(spec))
        .singleElement()
        .asString()
        .startsWith("spec.aliyun is required");
    spec.setType(ProviderType.E2B);
    assertThat(SandboxProviderValidator.validate(spec))
        .singleElement()
        .asString()
        .startsWith("spec.e2b is required");
    spec.setType(null);
    assertThat(SandboxProviderValidator.validate(spec))
        .singleElement()
        .asString()
        .startsWith("spec.type is required");
  }

  @Test
  void aliyunTimeoutsAboveThirtySecondsAreRejected() {
    SandboxProviderSpec spec = new SandboxProviderSpec();
    spec.setType(ProviderType.ALIYUN);
    AliyunSpec aliyun = new AliyunSpec();
    aliyun.setCredentialsSecretRef(new dev.sandboxes.api.v1alpha1.SecretReference());
    aliyun.getCredentialsSecretRef().setName("creds");
    spec.setAliyun(aliyun);
    ExecutionLimits limits = new ExecutionLimits();
    limits.setMaxTimeoutSeconds(60);
    spec.setLimits(limits);
    assertThat(SandboxProviderValidator.validate(spec))
        .singleElement()
        .asString()
        .contains("at most 30 seconds");
  }

  @Test
  void theSelfManagedPidsLimitIsBounded() {
    SandboxProviderSpec spec = TestResources.aSelfManagedProvider("ns", "p", 1).getSpec();
    spec.getSelfManaged().setPidsLimit(8);
    assertThat(SandboxProviderValidator.validate(spec))
        .singleElement()
        .asString()
        .contains("spec.selfManaged.pidsLimit must be between 16 and 65536 (is 8)");
    spec.getSelfManaged().setPidsLimit(256);
    assertThat(SandboxProviderValidator.validate(spec)).isEmpty();
  }

  @Test
  void theSelfManagedMaxPoolSizeIsBoundedAndNotBelowThePoolSize() {
    SandboxProviderSpec spec = TestResources.aSelfManagedProvider("ns", "p", 3).getSpec();
    spec.getSelfManaged().setMaxPoolSize(2);
    assertThat(SandboxProviderValidator.validate(spec))
        .singleElement()
        .asString()
        .contains("spec.selfManaged.maxPoolSize (2) is below spec.selfManaged.poolSize (3)");
    spec.getSelfManaged().setMaxPoolSize(101);
    assertThat(SandboxProviderValidator.validate(spec))
        .singleElement()
        .asString()
        .contains("spec.selfManaged.maxPoolSize must be between 0 and 100 (is 101)");
    spec.getSelfManaged().setMaxPoolSize(3);
    assertThat(SandboxProviderValidator.validate(spec)).isEmpty();
    spec.getSelfManaged().setMaxPoolSize(null); // a fixed pool
    assertThat(SandboxProviderValidator.validate(spec)).isEmpty();
  }

  @Test
  void artifactLimitsAreBoundedByTheStatusAndTheConfigMapAndDefaultToTenFilesAndOneMebibyte() {
    SandboxProviderSpec spec = TestResources.aDockerProvider("ns", "p").getSpec();
    ExecutionLimits limits = new ExecutionLimits();
    limits.setMaxArtifacts(101);
    limits.setMaxArtifactBytes(1048577);
    spec.setLimits(limits);
    assertThat(SandboxProviderValidator.validate(spec))
        .containsExactlyInAnyOrder(
            "spec.limits.maxArtifacts must be between 0 and 100 (is 101)",
            "spec.limits.maxArtifactBytes must be between 0 and 1048576 (is 1048577)");
    limits.setMaxArtifacts(0);
    limits.setMaxArtifactBytes(0);
    assertThat(SandboxProviderValidator.validate(spec)).isEmpty();

    var provider = TestResources.aDockerProvider("ns", "p");
    var defaults =
        ProviderSettings.of(provider, dev.sandboxes.operator.config.OperatorConfig.defaults())
            .limits();
    assertThat(defaults.artifactLimits())
        .isEqualTo(dev.sandboxes.operator.runner.ArtifactLimits.DEFAULT);
    assertThat(defaults.maxArtifacts()).isEqualTo(10);
    assertThat(defaults.maxArtifactBytes()).isEqualTo(1048576);
  }

  @Test
  void defaultTimeoutMustFitTheMaximum() {
    SandboxProviderSpec spec = TestResources.aDockerProvider("ns", "p").getSpec();
    ExecutionLimits limits = new ExecutionLimits();
    limits.setDefaultTimeoutSeconds(100);
    limits.setMaxTimeoutSeconds(50);
    spec.setLimits(limits);
    assertThat(SandboxProviderValidator.validate(spec))
        .singleElement()
        .asString()
        .contains("defaultTimeoutSeconds (100)");
  }

  @Test
  void runtimesAreUniqueAndUseTheRightField() {
    SandboxProviderSpec spec = TestResources.aDockerProvider("ns", "p").getSpec();
    RuntimeSpec a = new RuntimeSpec();
    a.setLanguage(Language.PYTHON);
    a.setTemplate("t");
    RuntimeSpec b = new RuntimeSpec();
    b.setLanguage(Language.PYTHON);
    spec.setRuntimes(List.of(a, b));
    assertThat(SandboxProviderValidator.validate(spec))
        .anyMatch(p -> p.contains("listed twice"))
        .anyMatch(p -> p.contains("template applies to Aliyun and E2B"));
  }

  @Test
  void egressAllowListNeedsValidCidrs() {
    SandboxProviderSpec spec = new SandboxProviderSpec();
    spec.setType(ProviderType.SELF_MANAGED);
    SelfManagedSpec selfManaged = new SelfManagedSpec();
    EgressSpec egress = new EgressSpec();
    egress.setPolicy(EgressPolicy.ALLOW_LIST);
    egress.setAllowedCidrs(List.of("10.0.0.0/8", "not-a-cidr"));
    selfManaged.setEgress(egress);
    spec.setSelfManaged(selfManaged);
    assertThat(SandboxProviderValidator.validate(spec))
        .singleElement()
        .asString()
        .contains("'not-a-cidr'");
  }

  @Test
  void dockerHostMustBeASocketOrTcp() {
    SandboxProviderSpec spec = TestResources.aDockerProvider("ns", "p").getSpec();
    spec.getDocker().setHost("http://example");
    spec.getDocker().setPidsLimit(1);
    assertThat(SandboxProviderValidator.validate(spec)).hasSize(2);
  }

  @Test
  void theOperatorsInternetTemplateNeedsTheEgressOptIn() {
    SandboxProviderSpec spec = new SandboxProviderSpec();
    spec.setType(dev.sandboxes.api.v1alpha1.ProviderType.ALIYUN);
    AliyunSpec aliyun = new AliyunSpec();
    aliyun.setCredentialsSecretRef(new dev.sandboxes.api.v1alpha1.SecretReference());
    aliyun.getCredentialsSecretRef().setName("creds");
    aliyun.setTemplateName("sandbox-operator-code-interpreter");
    spec.setAliyun(aliyun);
    dev.sandboxes.api.v1alpha1.RuntimeSpec runtime = new dev.sandboxes.api.v1alpha1.RuntimeSpec();
    runtime.setLanguage(dev.sandboxes.api.v1alpha1.Language.PYTHON);
    runtime.setTemplate("sandbox-operator-code-interpreter");
    spec.setRuntimes(java.util.List.of(runtime));

    assertThat(SandboxProviderValidator.validate(spec))
        .containsExactly(
            "spec.aliyun.templateName names sandbox-operator-code-interpreter, the operator's template with internet access,"
                + " but spec.aliyun.egress is Deny; remove it, or set spec.aliyun.egress: Internet",
            "spec.runtimes[0].template names sandbox-operator-code-interpreter, the operator's template with internet access,"
                + " but spec.aliyun.egress is Deny; remove it, or set spec.aliyun.egress: Internet");
    aliyun.setEgress(dev.sandboxes.api.v1alpha1.AliyunEgress.INTERNET);
    assertThat(SandboxProviderValidator.validate(spec)).isEmpty();
  }
}
