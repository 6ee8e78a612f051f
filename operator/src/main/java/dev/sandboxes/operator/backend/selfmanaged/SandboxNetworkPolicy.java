package dev.sandboxes.operator.backend.selfmanaged;

import dev.sandboxes.api.ApiConstants;
import dev.sandboxes.operator.provider.ProviderSettings;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyEgressRule;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyEgressRuleBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPeerBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicySpec;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The NetworkPolicy of a provider's sandbox pods: no ingress at all, and no egress unless the
 * provider lists CIDRs. It exists before the first pod does.
 */
final class SandboxNetworkPolicy {

  private SandboxNetworkPolicy() {}

  /** Name of the provider's policy. */
  static String name(ProviderSettings provider) {
    String base =
        provider.name().length() > 240 ? provider.name().substring(0, 240) : provider.name();
    return "sbx-" + base;
  }

  static NetworkPolicy build(
      ProviderSettings provider, String providerUid, SelfManagedSettings settings) {
    // An empty rule list with the type listed denies everything of that direction.
    List<NetworkPolicyEgressRule> egress =
        settings.egressCidrs().isEmpty()
            ? List.of()
            : List.of(
                new NetworkPolicyEgressRuleBuilder()
                    .withTo(
                        settings.egressCidrs().stream()
                            .map(
                                cidr ->
                                    new NetworkPolicyPeerBuilder()
                                        .withNewIpBlock()
                                        .withCidr(cidr)
                                        .endIpBlock()
                                        .build())
                            .toList())
                    .build());
    return new NetworkPolicyBuilder()
        .withNewMetadata()
        .withName(name(provider))
        .withNamespace(provider.namespace())
        .withLabels(SandboxPodTemplate.selectorLabels(provider, providerUid))
        .withOwnerReferences(SandboxPodTemplate.ownerReference(provider, providerUid))
        .endMetadata()
        .withNewSpec()
        .withNewPodSelector()
        .withMatchLabels(Map.of(ApiConstants.PROVIDER_UID_LABEL, providerUid))
        .endPodSelector()
        .withPolicyTypes("Ingress", "Egress")
        .withIngress(List.of())
        .withEgress(egress)
        .endSpec()
        .build();
  }

  /** Creates the policy, or brings an existing one back to the desired spec. */
  static void ensure(KubernetesClient client, NetworkPolicy desired) {
    var resource =
        client
            .network()
            .v1()
            .networkPolicies()
            .inNamespace(desired.getMetadata().getNamespace())
            .withName(desired.getMetadata().getName());
    NetworkPolicy current = resource.get();
    if (current == null) {
      client.resource(desired).create();
      return;
    }
    if (!sameSpec(current.getSpec(), desired.getSpec())) {
      NetworkPolicy updated = new NetworkPolicyBuilder(current).withSpec(desired.getSpec()).build();
      updated.getMetadata().setLabels(desired.getMetadata().getLabels());
      updated.getMetadata().setOwnerReferences(desired.getMetadata().getOwnerReferences());
      client.resource(updated).update();
    }
  }

  private static boolean sameSpec(NetworkPolicySpec current, NetworkPolicySpec desired) {
    if (current == null) {
      return false;
    }
    // The API server drops empty lists: compare with that in mind.
    return Objects.equals(current.getPodSelector(), desired.getPodSelector())
        && Objects.equals(current.getPolicyTypes(), desired.getPolicyTypes())
        && Objects.equals(emptyIfNull(current.getIngress()), emptyIfNull(desired.getIngress()))
        && Objects.equals(emptyIfNull(current.getEgress()), emptyIfNull(desired.getEgress()));
  }

  private static <T> List<T> emptyIfNull(List<T> list) {
    return list == null ? List.of() : list;
  }
}
