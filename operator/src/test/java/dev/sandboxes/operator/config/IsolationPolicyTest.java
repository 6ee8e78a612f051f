package dev.sandboxes.operator.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sandboxes.api.v1alpha1.DockerSpec;
import dev.sandboxes.api.v1alpha1.EgressPolicy;
import dev.sandboxes.api.v1alpha1.EgressSpec;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.api.v1alpha1.SandboxProviderSpec;
import dev.sandboxes.api.v1alpha1.SecretReference;
import dev.sandboxes.api.v1alpha1.SelfManagedSpec;
import dev.sandboxes.operator.sandboxprovider.IsolationPolicyCheck;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The operator-level isolation policy: its defaults, its variables, and what it refuses. */
@Tag("unit")
class IsolationPolicyTest {

  @Test
  void theDefaultAllowsGvisorOnlyNoNetworkAndTlsOnly() {
    IsolationPolicy policy = OperatorConfig.fromEnvironment(Map.of()).isolationPolicy();
    assertThat(policy.dockerRuntimes()).containsExactly("runsc");
    assertThat(policy.dockerNetworks()).containsExactly("none");
    assertThat(policy.dockerPlainTcp()).isFalse();
    assertThat(policy.runtimeClasses()).containsExactly("gvisor");
    assertThat(policy.runtimeClassHandlers()).containsExactly("runsc");
    assertThat(policy.selfManagedEgress()).isFalse();
    assertThat(policy.dockerMaxContainers()).isEqualTo(16);
    assertThat(
            IsolationPolicyCheck.violations(
                policy, docker("unix:///run/podman-runsc.sock", null, null)))
        .isEmpty();
    assertThat(IsolationPolicyCheck.violations(policy, selfManaged(null, null))).isEmpty();
  }

  @Test
  void everyWeakerSettingIsAViolationNamingItsField() {
    IsolationPolicy policy = IsolationPolicy.defaults();
    assertThat(
            IsolationPolicyCheck.violations(
                policy, docker("unix:///run/podman-runc.sock", "runc", null)))
        .singleElement()
        .asString()
        .contains("spec.docker.runtime runc")
        .contains("allowed runtimes: runsc");
    assertThat(IsolationPolicyCheck.violations(policy, docker("unix:///x.sock", null, "bridge")))
        .singleElement()
        .asString()
        .contains("spec.docker.network bridge")
        .contains("allowed network modes: none");
    assertThat(IsolationPolicyCheck.violations(policy, docker("tcp://engine:2375", null, null)))
        .singleElement()
        .asString()
        .contains("spec.docker.host tcp://engine:2375")
        .contains("tlsSecretRef");
    assertThat(IsolationPolicyCheck.violations(policy, selfManaged("runc", null)))
        .singleElement()
        .asString()
        .contains("spec.selfManaged.runtimeClassName runc")
        .contains("allowed RuntimeClasses: gvisor");
    assertThat(IsolationPolicyCheck.violations(policy, selfManaged(null, EgressPolicy.ALLOW_LIST)))
        .singleElement()
        .asString()
        .contains("spec.selfManaged.egress.policy AllowList");
    // Several at once are all named.
    assertThat(IsolationPolicyCheck.violations(policy, docker("tcp://engine:2375", "runc", "host")))
        .hasSize(3);
  }

  @Test
  void tcpWithTlsIsFineAndPlainTcpOnlyWhenAllowed() {
    SandboxProviderSpec tls = docker("tcp://engine:2376", null, null);
    SecretReference secret = new SecretReference();
    secret.setName("engine-tls");
    tls.getDocker().setTlsSecretRef(secret);
    assertThat(IsolationPolicyCheck.violations(IsolationPolicy.defaults(), tls)).isEmpty();
    IsolationPolicy plain =
        IsolationPolicy.fromEnvironment(Map.of(IsolationPolicy.ENV_DOCKER_PLAIN_TCP, "true"));
    assertThat(IsolationPolicyCheck.violations(plain, docker("tcp://engine:2375", null, null)))
        .isEmpty();
  }

  @Test
  void variablesWidenOrNarrowThePolicy() {
    IsolationPolicy policy =
        IsolationPolicy.fromEnvironment(
            Map.of(
                IsolationPolicy.ENV_DOCKER_RUNTIMES, "runsc, runc",
                IsolationPolicy.ENV_DOCKER_NETWORKS, "*",
                IsolationPolicy.ENV_RUNTIME_CLASSES, "gvisor,runc",
                IsolationPolicy.ENV_RUNTIME_CLASS_HANDLERS, "runsc,runc",
                IsolationPolicy.ENV_SELFMANAGED_EGRESS, "true",
                IsolationPolicy.ENV_DOCKER_MAX_CONTAINERS, "40"));
    assertThat(policy.dockerContainerCap(null)).isEqualTo(40);
    assertThat(IsolationPolicyCheck.violations(policy, docker("unix:///x.sock", "runc", "bridge")))
        .isEmpty();
    assertThat(
            IsolationPolicyCheck.violations(policy, selfManaged("runc", EgressPolicy.ALLOW_LIST)))
        .isEmpty();
    assertThat(policy.allowsRuntimeClassHandler("runc")).isTrue();
    assertThat(policy.allowsRuntimeClassHandler("kata")).isFalse();
    // A set but empty list allows nothing: here, no Docker provider at all.
    IsolationPolicy noDocker =
        IsolationPolicy.fromEnvironment(Map.of(IsolationPolicy.ENV_DOCKER_RUNTIMES, ""));
    assertThat(IsolationPolicyCheck.violations(noDocker, docker("unix:///x.sock", null, null)))
        .singleElement()
        .asString()
        .contains("none allowed");
    // What a policy writes is what it reads.
    assertThat(IsolationPolicy.fromEnvironment(policy.toEnvironment())).isEqualTo(policy);
    assertThat(
            IsolationPolicy.defaults()
                .alsoAllowing(Set.of("runc"), Set.of("runc"), Set.of("runc"))
                .dockerRuntimes())
        .containsExactlyInAnyOrder("runsc", "runc");
  }

  @Test
  void badValuesAreClearErrors() {
    assertThatThrownBy(
            () ->
                IsolationPolicy.fromEnvironment(
                    Map.of(IsolationPolicy.ENV_DOCKER_PLAIN_TCP, "yes")))
        .hasMessageContaining(IsolationPolicy.ENV_DOCKER_PLAIN_TCP)
        .hasMessageContaining("true or false");
    assertThatThrownBy(
            () ->
                IsolationPolicy.fromEnvironment(
                    Map.of(IsolationPolicy.ENV_DOCKER_RUNTIMES, "runsc;runc")))
        .hasMessageContaining(IsolationPolicy.ENV_DOCKER_RUNTIMES);
    assertThatThrownBy(
            () ->
                IsolationPolicy.fromEnvironment(
                    Map.of(IsolationPolicy.ENV_DOCKER_MAX_CONTAINERS, "0")))
        .hasMessageContaining(IsolationPolicy.ENV_DOCKER_MAX_CONTAINERS)
        .hasMessageContaining("at least 1");
  }

  private static SandboxProviderSpec docker(String host, String runtime, String network) {
    SandboxProviderSpec spec = new SandboxProviderSpec();
    spec.setType(ProviderType.DOCKER);
    DockerSpec docker = new DockerSpec();
    docker.setHost(host);
    docker.setRuntime(runtime);
    docker.setNetwork(network);
    spec.setDocker(docker);
    return spec;
  }

  private static SandboxProviderSpec selfManaged(String runtimeClass, EgressPolicy egressPolicy) {
    SandboxProviderSpec spec = new SandboxProviderSpec();
    spec.setType(ProviderType.SELF_MANAGED);
    SelfManagedSpec selfManaged = new SelfManagedSpec();
    selfManaged.setRuntimeClassName(runtimeClass);
    if (egressPolicy != null) {
      EgressSpec egress = new EgressSpec();
      egress.setPolicy(egressPolicy);
      egress.setAllowedCidrs(
          egressPolicy == EgressPolicy.ALLOW_LIST ? List.of("192.0.2.0/24") : null);
      selfManaged.setEgress(egress);
    }
    spec.setSelfManaged(selfManaged);
    return spec;
  }
}
