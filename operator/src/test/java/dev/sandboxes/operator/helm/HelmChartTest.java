package dev.sandboxes.operator.helm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import com.marcnuri.helm.TemplateCommand;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.operator.config.IsolationPolicy;
import dev.sandboxes.operator.config.OperatorConfig;
import dev.sandboxes.operator.sandboxprovider.SandboxProviderValidator;
import dev.sandboxes.operator.testing.ProjectPaths;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/** The chart, linted strictly and rendered offline with helm-java; assertions on the objects. */
class HelmChartTest {

  private static final Path CHART = ProjectPaths.root().resolve("helm/sandbox-operator");
  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

  @Test
  void lintsCleanlyInStrictMode() {
    LintResult result = new Helm(CHART).lint().strict().call();
    assertThat(result.isFailed()).as(String.join("\n", result.getMessages())).isFalse();
  }

  @Test
  void theDeploymentIsLockedDownAndConfiguredThroughTheVariablesTheOperatorReads() throws IOException {
    JsonNode deployment = one(render(t -> t), "Deployment");
    JsonNode pod = deployment.at("/spec/template/spec");
    assertThat(pod.at("/securityContext/runAsNonRoot").asBoolean()).isTrue();
    assertThat(pod.at("/securityContext/seccompProfile/type").asText()).isEqualTo("RuntimeDefault");
    JsonNode container = pod.at("/containers/0");
    assertThat(container.at("/securityContext/readOnlyRootFilesystem").asBoolean()).isTrue();
    assertThat(container.at("/securityContext/allowPrivilegeEscalation").asBoolean()).isFalse();
    assertThat(container.at("/securityContext/capabilities/drop").toString()).isEqualTo("[\"ALL\"]");
    assertThat(container.at("/image").asText()).isEqualTo("localhost/sandbox-operator:0.1.0");
    assertThat(container.at("/readinessProbe/httpGet/path").asText()).isEqualTo("/readyz");
    assertThat(container.at("/livenessProbe/httpGet/path").asText()).isEqualTo("/healthz");
    assertThat(container.at("/resources/limits/memory").asText()).isEqualTo("512Mi");
    Map<String, String> env = new java.util.HashMap<>();
    container.get("env").forEach(e -> env.put(e.get("name").asText(), e.path("value").asText(null)));
    assertThat(env).containsKeys("SANDBOX_WATCH_NAMESPACES", "SANDBOX_DEFAULT_RUNTIME_IMAGE", "SANDBOX_HEALTH_PORT",
        "SANDBOX_LEADER_ELECTION", "SANDBOX_LEASE_NAME", "POD_NAMESPACE", "POD_NAME");
    // What the chart sets is what the operator understands.
    OperatorConfig config = OperatorConfig.fromEnvironment(env);
    // Least privilege by default: the release namespace only, not every namespace.
    assertThat(config.watchNamespaces()).containsExactly("sandbox-system");
    assertThat(config.healthPort()).isEqualTo(container.at("/ports/0/containerPort").asInt());
    assertThat(config.isolationPolicy()).isEqualTo(IsolationPolicy.defaults());
    assertThat(deployment.at("/spec/strategy/type").asText()).isEqualTo("Recreate");
  }

  @Test
  void theDefaultInstallHoldsRightsOnlyInItsOwnNamespace() throws IOException {
    List<JsonNode> objects = render(t -> t);
    // No ClusterRole with namespaced rights: the only cluster-wide grant reads RuntimeClasses.
    List<JsonNode> clusterRoles = operatorRoles(objects).stream()
        .filter(o -> "ClusterRole".equals(o.path("kind").asText())).toList();
    assertThat(clusterRoles).singleElement().satisfies(role -> {
      assertThat(role.at("/metadata/name").asText()).isEqualTo("test-sandbox-operator-runtimeclasses");
      assertThat(role.get("rules").toString())
          .isEqualTo("[{\"apiGroups\":[\"node.k8s.io\"],\"resources\":[\"runtimeclasses\"],\"verbs\":[\"get\"]}]");
    });
    JsonNode role = objects.stream().filter(o -> "Role".equals(o.path("kind").asText())).collect(onlyOne());
    assertThat(role.at("/metadata/namespace").asText()).isEqualTo("sandbox-system");
    JsonNode binding = objects.stream().filter(o -> "RoleBinding".equals(o.path("kind").asText())).collect(onlyOne());
    assertThat(binding.at("/metadata/namespace").asText()).isEqualTo("sandbox-system");
    assertThat(binding.at("/subjects/0/name").asText()).isEqualTo("test-sandbox-operator");
    for (JsonNode rule : role.get("rules")) {
      assertThat(rule.get("verbs").toString()).doesNotContain("*");
      assertThat(rule.get("resources").toString()).doesNotContain("*");
    }
    // Secrets: read by name only, never listed or watched (nothing caches them).
    List<JsonNode> rules = new ArrayList<>();
    role.get("rules").forEach(rules::add);
    assertThat(verbs(rules, "", "secrets")).containsExactly("get");
    assertThat(objects.stream().filter(o -> "ClusterRoleBinding".equals(o.path("kind").asText()))
        .map(o -> o.at("/roleRef/name").asText())).containsExactly("test-sandbox-operator-runtimeclasses");
  }

  @Test
  void everyNamespaceIsAnExplicitOptIn() throws IOException {
    List<JsonNode> objects = render(t -> t.set("watchAllNamespaces", true));
    JsonNode clusterRole = objects.stream().filter(o -> "ClusterRole".equals(o.path("kind").asText())
        && o.at("/metadata/name").asText().equals("test-sandbox-operator")).collect(onlyOne());
    List<JsonNode> rules = new ArrayList<>();
    clusterRole.get("rules").forEach(rules::add);
    assertThat(verbs(rules, "", "secrets")).containsExactly("get");
    assertThat(objects.stream().filter(o -> "Role".equals(o.path("kind").asText()))).isEmpty();
    Map<String, String> env = env(one(objects, "Deployment"));
    assertThat(OperatorConfig.fromEnvironment(env).watchNamespaces()).isEmpty(); // empty = all
    // A list of namespaces and "all of them" at once is a mistake the schema catches.
    assertThatThrownBy(() -> render(t -> t.set("watchAllNamespaces", true).set("watchNamespaces[0]", "team-a")))
        .hasMessageContaining("watchNamespaces");
  }

  @Test
  void withoutSelfManagedPodsTheOperatorHoldsNoPodRights() throws IOException {
    for (List<JsonNode> objects : List.of(render(t -> t.set("rbac.selfManagedPods", false)),
        render(t -> t.set("rbac.selfManagedPods", false).set("watchAllNamespaces", true)))) {
      List<JsonNode> rules = new ArrayList<>();
      operatorRoles(objects).forEach(o -> o.get("rules").forEach(rules::add));
      assertThat(verbs(rules, "", "pods")).isEmpty();
      assertThat(verbs(rules, "", "pods/exec")).isEmpty();
      assertThat(verbs(rules, "networking.k8s.io", "networkpolicies")).isEmpty();
      assertThat(verbs(rules, "node.k8s.io", "runtimeclasses")).isEmpty();
      assertThat(verbs(rules, "", "secrets")).containsExactly("get");
    }
  }

  @Test
  void theIsolationPolicyValuesReachTheOperator() throws IOException {
    Map<String, String> env = env(one(render(t -> t
        .set("isolationPolicy.docker.allowedRuntimes[0]", "runsc").set("isolationPolicy.docker.allowedRuntimes[1]", "runc")
        .set("isolationPolicy.docker.allowPlainTcp", true)
        .set("isolationPolicy.docker.maxContainersPerProvider", 40)
        .set("isolationPolicy.selfManaged.allowedRuntimeClasses[0]", "gvisor")
        .set("isolationPolicy.selfManaged.allowedRuntimeClasses[1]", "kata")
        .set("isolationPolicy.selfManaged.allowedRuntimeClassHandlers[0]", "runsc")
        .set("isolationPolicy.selfManaged.allowedRuntimeClassHandlers[1]", "kata-qemu")
        .set("isolationPolicy.selfManaged.allowEgress", true)), "Deployment"));
    IsolationPolicy policy = OperatorConfig.fromEnvironment(env).isolationPolicy();
    assertThat(policy.dockerRuntimes()).containsExactlyInAnyOrder("runsc", "runc");
    assertThat(policy.dockerNetworks()).containsExactly("none");
    assertThat(policy.dockerPlainTcp()).isTrue();
    assertThat(policy.dockerMaxContainers()).isEqualTo(40);
    assertThat(policy.runtimeClasses()).containsExactlyInAnyOrder("gvisor", "kata");
    assertThat(policy.runtimeClassHandlers()).containsExactlyInAnyOrder("runsc", "kata-qemu");
    assertThat(policy.selfManagedEgress()).isTrue();
    assertThatThrownBy(() -> render(t -> t.set("isolationPolicy.docker.allowedRuntimes[0]", "runc; rm -rf /")))
        .hasMessageContaining("allowedRuntimes");
  }

  private static List<JsonNode> operatorRoles(List<JsonNode> objects) {
    return objects.stream().filter(o -> o.path("kind").asText().endsWith("Role")
        && !o.at("/metadata/name").asText().matches(".*-(admin|edit|view)$")).toList();
  }

  private static Map<String, String> env(JsonNode deployment) {
    Map<String, String> env = new java.util.HashMap<>();
    deployment.at("/spec/template/spec/containers/0/env")
        .forEach(e -> env.put(e.get("name").asText(), e.path("value").asText(null)));
    env.values().removeIf(java.util.Objects::isNull); // fieldRef values
    return env;
  }

  private static <T> java.util.stream.Collector<T, ?, T> onlyOne() {
    return java.util.stream.Collectors.collectingAndThen(java.util.stream.Collectors.toList(), list -> {
      assertThat(list).hasSize(1);
      return list.get(0);
    });
  }

  @Test
  void rbacGrantsExactlyWhatTheSelfManagedBackendUses() throws IOException {
    for (List<JsonNode> objects : List.of(render(t -> t), render(t -> t.set("watchNamespaces[0]", "team-a")),
        render(t -> t.set("watchAllNamespaces", true)))) {
      List<JsonNode> rules = new ArrayList<>();
      operatorRoles(objects).forEach(o -> o.get("rules").forEach(rules::add));
      // Pods: created, watched by the pool's informer, claimed by an update, labelled back, deleted.
      assertThat(verbs(rules, "", "pods")).containsExactly("get", "list", "watch", "create", "update", "patch", "delete");
      // Exec: a websocket upgrade of a GET or POST, so both verbs.
      assertThat(verbs(rules, "", "pods/exec")).containsExactly("create", "get");
      // The NetworkPolicy: read, created, updated back to the desired spec; the garbage collector
      // deletes it with its provider (owner reference).
      assertThat(verbs(rules, "networking.k8s.io", "networkpolicies")).containsExactly("get", "create", "update");
      // The RuntimeClass is only looked up by name.
      assertThat(verbs(rules, "node.k8s.io", "runtimeclasses")).containsExactly("get");
      // Events are only created.
      assertThat(verbs(rules, "events.k8s.io", "events")).containsExactly("create");
      assertThat(rules.toString()).doesNotContain("deletecollection").doesNotContain("\"nodes\"");
    }
  }

  private static List<String> verbs(List<JsonNode> rules, String group, String resource) {
    List<String> verbs = new ArrayList<>();
    for (JsonNode rule : rules) {
      boolean matches = rule.get("apiGroups").toString().contains("\"" + group + "\"")
          && rule.get("resources").toString().contains("\"" + resource + "\"");
      if (matches) {
        rule.get("verbs").forEach(v -> verbs.add(v.asText()));
      }
    }
    return verbs;
  }

  @Test
  void watchNamespacesGetARoleEach() throws IOException {
    List<JsonNode> objects = render(t -> t.set("watchNamespaces[0]", "team-a").set("watchNamespaces[1]", "team-b"));
    List<String> roleNamespaces = new ArrayList<>();
    objects.stream().filter(o -> "Role".equals(o.path("kind").asText()))
        .forEach(o -> roleNamespaces.add(o.at("/metadata/namespace").asText()));
    assertThat(roleNamespaces).containsExactlyInAnyOrder("team-a", "team-b");
    JsonNode env = one(objects, "Deployment").at("/spec/template/spec/containers/0/env");
    assertThat(env.toString()).contains("\"team-a,team-b\"");
    assertThat(objects.stream().filter(o -> "ClusterRole".equals(o.path("kind").asText()))
        .map(o -> o.at("/metadata/name").asText())).contains("test-sandbox-operator-runtimeclasses");
  }

  @Test
  void leaderElectionAddsALeaseRoleAndAllowsSeveralReplicas() throws IOException {
    List<JsonNode> objects = render(t -> t.set("leaderElection.enabled", true).set("replicaCount", 2)
        .set("podDisruptionBudget.enabled", true));
    JsonNode lease = objects.stream().filter(o -> "Role".equals(o.path("kind").asText())
        && o.at("/metadata/name").asText().endsWith("-leader-election")).findFirst().orElseThrow();
    assertThat(lease.at("/rules/0/resources/0").asText()).isEqualTo("leases");
    // fabric8 renews with PATCH (a 403 there loses the lease and exits the pod); JOSDK checks
    // get, create and update before it starts.
    assertThat(lease.at("/rules/0/verbs").toString()).isEqualTo("[\"get\",\"create\",\"update\",\"patch\"]");
    assertThat(one(objects, "Deployment").at("/spec/replicas").asInt()).isEqualTo(2);
    assertThat(kinds(objects)).contains("PodDisruptionBudget");
  }

  @Test
  void severalReplicasWithoutLeaderElectionAreRejected() {
    assertThatThrownBy(() -> render(t -> t.set("replicaCount", 2))).hasMessageContaining("leaderElection");
  }

  @Test
  void theDefaultProviderIsAnnotatedAndValid() throws IOException {
    JsonNode provider = one(render(t -> t.set("defaultProvider.enabled", true)), "SandboxProvider");
    assertThat(provider.at("/metadata/annotations").toString()).contains("sandboxes.dev/is-default-provider");
    SandboxProvider model = YAML.treeToValue(provider, SandboxProvider.class);
    assertThat(SandboxProviderValidator.validate(model.getSpec())).isEmpty();
  }

  @Test
  void optionalObjectsAppearOnlyWhenAskedFor() throws IOException {
    assertThat(kinds(render(t -> t))).doesNotContain("ServiceMonitor", "RuntimeClass", "PodDisruptionBudget", "SandboxProvider")
        .contains("Service", "ServiceAccount", "ClusterRoleBinding");
    assertThat(kinds(render(t -> t.set("metrics.serviceMonitor.enabled", true).set("runtimeClass.create", true))))
        .contains("ServiceMonitor", "RuntimeClass");
  }

  private static List<JsonNode> render(UnaryOperator<TemplateCommand> values) throws IOException {
    String manifest = values.apply(new Helm(CHART).template().withName("test").withNamespace("sandbox-system")).call();
    List<JsonNode> objects = new ArrayList<>();
    try (var parser = YAML.getFactory().createParser(manifest)) {
      while (parser.nextToken() != null) {
        JsonNode node = YAML.readTree(parser);
        if (node != null && node.has("kind")) {
          objects.add(node);
        }
      }
    }
    return objects;
  }

  private static JsonNode one(List<JsonNode> objects, String kind) {
    return objects.stream().filter(o -> kind.equals(o.path("kind").asText())).findFirst().orElseThrow();
  }

  private static List<String> kinds(List<JsonNode> objects) {
    return objects.stream().map(o -> o.path("kind").asText()).toList();
  }
}
