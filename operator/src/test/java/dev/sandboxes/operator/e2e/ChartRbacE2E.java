package dev.sandboxes.operator.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.marcnuri.helm.Helm;
import dev.sandboxes.operator.testing.ProjectPaths;
import io.fabric8.kubernetes.api.model.authorization.v1.ResourceAttributesBuilder;
import io.fabric8.kubernetes.api.model.authorization.v1.SubjectAccessReview;
import io.fabric8.kubernetes.api.model.authorization.v1.SubjectAccessReviewBuilder;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * What the chart's default install lets the operator's ServiceAccount do, asked of the real API
 * server's authorizer (SubjectAccessReview): its own namespace only, Secrets by name only. Needs no
 * operator image: only the RBAC objects matter, so the pod need not start.
 */
@Tag("e2e")
class ChartRbacE2E {

  private static final Path CHART = ProjectPaths.root().resolve("helm/sandbox-operator");

  private E2eCluster cluster;
  private String release;
  private String serviceAccount;

  @BeforeEach
  void install() {
    cluster = E2eCluster.open("rbac");
    release = "rbac-" + cluster.namespace().substring(cluster.namespace().lastIndexOf('-') + 1);
    serviceAccount =
        "system:serviceaccount:" + cluster.namespace() + ":" + release + "-sandbox-operator";
    // The default values: no watchNamespaces, no watchAllNamespaces.
    new Helm(CHART)
        .install()
        .withName(release)
        .withNamespace(cluster.namespace())
        .withKubeConfig(Path.of(System.getenv("KUBECONFIG")))
        .skipCrds()
        .set("image.pullPolicy", "Never")
        .set("replicaCount", "0")
        .call();
  }

  @AfterEach
  void uninstall() {
    if (release != null) {
      Helm.uninstall(release)
          .withNamespace(cluster.namespace())
          .withKubeConfig(Path.of(System.getenv("KUBECONFIG")))
          .call();
    }
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  void theDefaultInstallActsOnlyInItsOwnNamespaceAndReadsSecretsOnlyByName() {
    String own = cluster.namespace();
    // What it needs, where it runs.
    assertThat(allowed("get", "", "secrets", null, own)).isTrue();
    assertThat(allowed("create", "", "pods", null, own)).isTrue();
    assertThat(allowed("create", "", "pods", "exec", own)).isTrue();
    assertThat(allowed("list", "sandboxes.dev", "codeexecutions", null, own)).isTrue();
    assertThat(allowed("get", "node.k8s.io", "runtimeclasses", null, null)).isTrue();
    // Artifacts: a new ConfigMap per execution; existing ConfigMaps are never changed or listed.
    assertThat(allowed("create", "", "configmaps", null, own)).isTrue();
    assertThat(allowed("update", "", "configmaps", null, own)).isFalse();
    assertThat(allowed("list", "", "configmaps", null, own)).isFalse();
    // Never every Secret at once: nothing caches them.
    assertThat(allowed("list", "", "secrets", null, own)).isFalse();
    assertThat(allowed("watch", "", "secrets", null, own)).isFalse();
    // Nothing anywhere else.
    for (String other : List.of("default", "kube-system")) {
      assertThat(allowed("get", "", "secrets", null, other))
          .as("get secrets in %s", other)
          .isFalse();
      assertThat(allowed("create", "", "pods", null, other))
          .as("create pods in %s", other)
          .isFalse();
      assertThat(allowed("create", "", "pods", "exec", other))
          .as("exec into pods in %s", other)
          .isFalse();
      assertThat(allowed("delete", "", "pods", null, other))
          .as("delete pods in %s", other)
          .isFalse();
      assertThat(allowed("create", "", "configmaps", null, other))
          .as("create configmaps in %s", other)
          .isFalse();
      assertThat(allowed("list", "sandboxes.dev", "sandboxproviders", null, other)).isFalse();
    }
  }

  private boolean allowed(
      String verb, String group, String resource, String subresource, String namespace) {
    SubjectAccessReview review =
        new SubjectAccessReviewBuilder()
            .withNewSpec()
            .withUser(serviceAccount)
            .withGroups(
                "system:serviceaccounts",
                "system:serviceaccounts:" + cluster.namespace(),
                "system:authenticated")
            .withResourceAttributes(
                new ResourceAttributesBuilder()
                    .withVerb(verb)
                    .withGroup(group)
                    .withResource(resource)
                    .withSubresource(subresource)
                    .withNamespace(namespace)
                    .build())
            .endSpec()
            .build();
    return cluster
        .client()
        .authorization()
        .v1()
        .subjectAccessReview()
        .create(review)
        .getStatus()
        .getAllowed();
  }
}
