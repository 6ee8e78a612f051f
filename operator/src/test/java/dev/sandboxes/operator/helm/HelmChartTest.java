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
    OperatorConfig config = OperatorConfig.fromEnvironment(Map.of(
        "SANDBOX_WATCH_NAMESPACES", env.get("SANDBOX_WATCH_NAMESPACES"),
        "SANDBOX_HEALTH_PORT", env.get("SANDBOX_HEALTH_PORT"),
        "SANDBOX_RECONCILE_THREADS", env.get("SANDBOX_RECONCILE_THREADS"),
        "SANDBOX_PROBE_INTERVAL_SECONDS", env.get("SANDBOX_PROBE_INTERVAL_SECONDS")));
    assertThat(config.watchNamespaces()).isEmpty();
    assertThat(config.healthPort()).isEqualTo(container.at("/ports/0/containerPort").asInt());
    assertThat(deployment.at("/spec/strategy/type").asText()).isEqualTo("Recreate");
  }

  @Test
  void rbacIsLeastPrivilege() throws IOException {
    List<JsonNode> objects = render(t -> t);
    JsonNode role = objects.stream()
        .filter(o -> "ClusterRole".equals(o.path("kind").asText()) && o.at("/metadata/name").asText().equals("test-sandbox-operator"))
        .findFirst().orElseThrow();
    for (JsonNode rule : role.get("rules")) {
      assertThat(rule.get("verbs").toString()).doesNotContain("*");
      assertThat(rule.get("resources").toString()).doesNotContain("*");
      if (rule.get("resources").toString().contains("\"secrets\"")) {
        assertThat(rule.get("verbs").toString()).isEqualTo("[\"get\",\"list\",\"watch\"]");
      }
    }
    assertThat(kinds(objects)).doesNotContain("Role"); // no leader election by default
  }

  @Test
  void rbacGrantsExactlyWhatTheSelfManagedBackendUses() throws IOException {
    for (List<JsonNode> objects : List.of(render(t -> t), render(t -> t.set("watchNamespaces[0]", "team-a")))) {
      List<JsonNode> rules = new ArrayList<>();
      objects.stream().filter(o -> o.path("kind").asText().endsWith("Role") && !o.at("/metadata/name").asText().matches(".*-(admin|edit|view)$"))
          .forEach(o -> o.get("rules").forEach(rules::add));
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
    JsonNode lease = objects.stream().filter(o -> "Role".equals(o.path("kind").asText())).findFirst().orElseThrow();
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
