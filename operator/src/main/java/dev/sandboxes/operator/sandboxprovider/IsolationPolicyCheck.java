package dev.sandboxes.operator.sandboxprovider;

import dev.sandboxes.api.v1alpha1.EgressPolicy;
import dev.sandboxes.api.v1alpha1.SandboxProviderSpec;
import dev.sandboxes.operator.backend.docker.DockerSettings;
import dev.sandboxes.operator.backend.selfmanaged.SelfManagedSettings;
import dev.sandboxes.operator.config.IsolationPolicy;
import java.util.ArrayList;
import java.util.List;

/**
 * What in a (valid) provider spec asks for weaker isolation than the operator's policy allows, each
 * naming the field. Defaults count: a Docker provider that names no runtime asks for runsc. The
 * handler of a SelfManaged RuntimeClass is checked by the backend's probe, which reads it.
 */
public final class IsolationPolicyCheck {

  private IsolationPolicyCheck() {}

  /** Empty when the spec stays within the policy. */
  public static List<String> violations(IsolationPolicy policy, SandboxProviderSpec spec) {
    List<String> violations = new ArrayList<>();
    if (spec == null || spec.getType() == null) {
      return violations;
    }
    switch (spec.getType()) {
      case DOCKER -> {
        if (spec.getDocker() == null) {
          break;
        }
        DockerSettings docker = DockerSettings.of(spec.getDocker());
        if (!policy.allowsDockerRuntime(docker.runtime())) {
          violations.add(
              "spec.docker.runtime "
                  + docker.runtime()
                  + (spec.getDocker().getRuntime() == null ? " (the default)" : "")
                  + " (allowed runtimes: "
                  + IsolationPolicy.describe(policy.dockerRuntimes())
                  + ")");
        }
        if (!policy.allowsDockerNetwork(docker.network())) {
          violations.add(
              "spec.docker.network "
                  + docker.network()
                  + " (allowed network modes: "
                  + IsolationPolicy.describe(policy.dockerNetworks())
                  + ")");
        }
        String host = docker.host();
        if (host != null
            && host.startsWith("tcp://")
            && spec.getDocker().getTlsSecretRef() == null
            && !policy.dockerPlainTcp()) {
          violations.add(
              "spec.docker.host "
                  + host
                  + " without spec.docker.tlsSecretRef (plain tcp:// is not allowed:"
                  + " set tlsSecretRef to a Secret with ca.crt, tls.crt and tls.key)");
        }
      }
      case SELF_MANAGED -> {
        SelfManagedSettings selfManaged = SelfManagedSettings.of(spec.getSelfManaged());
        if (!policy.allowsRuntimeClass(selfManaged.runtimeClassName())) {
          violations.add(
              "spec.selfManaged.runtimeClassName "
                  + selfManaged.runtimeClassName()
                  + (spec.getSelfManaged() == null
                          || spec.getSelfManaged().getRuntimeClassName() == null
                      ? " (the default)"
                      : "")
                  + " (allowed RuntimeClasses: "
                  + IsolationPolicy.describe(policy.runtimeClasses())
                  + ")");
        }
        boolean egress =
            spec.getSelfManaged() != null
                && spec.getSelfManaged().getEgress() != null
                && spec.getSelfManaged().getEgress().getPolicy() == EgressPolicy.ALLOW_LIST;
        if (egress && !policy.selfManagedEgress()) {
          violations.add(
              "spec.selfManaged.egress.policy AllowList (egress from sandbox pods is not allowed; use Deny)");
        }
      }
      case ALIYUN, E2B -> {
        // Remote services: the operator cannot choose their isolation (documented in
        // docs/security.md).
      }
    }
    return violations;
  }
}
