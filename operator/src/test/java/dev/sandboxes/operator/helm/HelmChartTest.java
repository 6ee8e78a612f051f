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
import dev.sandboxes.operator.testing.MonitoringQueries;
import dev.sandboxes.operator.testing.ProjectPaths;
import dev.sandboxes.operator.testing.PromQl;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The chart, linted strictly and rendered offline with helm-java; assertions on the objects. */
@Tag("unit")
class HelmChartTest {

  private static final Path CHART = ProjectPaths.root().resolve("helm/sandbox-operator");
  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

  @Test
  void lintsCleanlyInStrictMode() {
    LintResult result = new Helm(CHART).lint().strict().call();
    assertThat(result.isFailed()).as(String.join("\n", result.getMessages())).isFalse();
  }

  @Test
  void theDeploymentIsLockedDownAndConfiguredThroughTheVariablesTheOperatorReads()
      throws IOException {
    JsonNode deployment = one(render(t -> t), "Deployment");
    JsonNode pod = deployment.at("/spec/template/spec");
    assertThat(pod.at("/securityContext/runAsNonRoot").asBoolean()).isTrue();
    assertThat(pod.at("/securityContext/seccompProfile/type").asText()).isEqualTo("RuntimeDefault");
    JsonNode container = pod.at("/containers/0");
    assertThat(container.at("/securityContext/readOnlyRootFilesystem").asBoolean()).isTrue();
    assertThat(container.at("/securityContext/allowPrivilegeEscalation").asBoolean()).isFalse();
    assertThat(container.at("/securityContext/capabilities/drop").toString())
        .isEqualTo("[\"ALL\"]");
    assertThat(container.at("/image").asText()).isEqualTo("localhost/sandbox-operator:0.1.0");
    assertThat(container.at("/readinessProbe/httpGet/path").asText()).isEqualTo("/readyz");
    assertThat(container.at("/livenessProbe/httpGet/path").asText()).isEqualTo("/healthz");
    assertThat(container.at("/resources/limits/memory").asText()).isEqualTo("512Mi");
    Map<String, String> env = new java.util.HashMap<>();
    container
        .get("env")
        .forEach(e -> env.put(e.get("name").asText(), e.path("value").asText(null)));
    assertThat(env)
        .containsKeys(
            "SANDBOX_WATCH_NAMESPACES",
            "SANDBOX_DEFAULT_RUNTIME_IMAGE",
            "SANDBOX_HEALTH_PORT",
            "SANDBOX_LEADER_ELECTION",
            "SANDBOX_LEASE_NAME",
            "POD_NAMESPACE",
            "POD_NAME");
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
    List<JsonNode> clusterRoles =
        operatorRoles(objects).stream()
            .filter(o -> "ClusterRole".equals(o.path("kind").asText()))
            .toList();
    assertThat(clusterRoles)
        .singleElement()
        .satisfies(
            role -> {
              assertThat(role.at("/metadata/name").asText())
                  .isEqualTo("test-sandbox-operator-runtimeclasses");
              assertThat(role.get("rules").toString())
                  .isEqualTo(
                      "[{\"apiGroups\":[\"node.k8s.io\"],\"resources\":[\"runtimeclasses\"],\"verbs\":[\"get\"]}]");
            });
    JsonNode role =
        objects.stream().filter(o -> "Role".equals(o.path("kind").asText())).collect(onlyOne());
    assertThat(role.at("/metadata/namespace").asText()).isEqualTo("sandbox-system");
    JsonNode binding =
        objects.stream()
            .filter(o -> "RoleBinding".equals(o.path("kind").asText()))
            .collect(onlyOne());
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
    // ConfigMaps: code is read from them, artifacts are stored in new ones; never listed, updated
    // or deleted.
    assertThat(verbs(rules, "", "configmaps")).containsExactly("get", "create");
    assertThat(
            objects.stream()
                .filter(o -> "ClusterRoleBinding".equals(o.path("kind").asText()))
                .map(o -> o.at("/roleRef/name").asText()))
        .containsExactly("test-sandbox-operator-runtimeclasses");
  }

  @Test
  void everyNamespaceIsAnExplicitOptIn() throws IOException {
    List<JsonNode> objects = render(t -> t.set("watchAllNamespaces", true));
    JsonNode clusterRole =
        objects.stream()
            .filter(
                o ->
                    "ClusterRole".equals(o.path("kind").asText())
                        && o.at("/metadata/name").asText().equals("test-sandbox-operator"))
            .collect(onlyOne());
    List<JsonNode> rules = new ArrayList<>();
    clusterRole.get("rules").forEach(rules::add);
    assertThat(verbs(rules, "", "secrets")).containsExactly("get");
    assertThat(objects.stream().filter(o -> "Role".equals(o.path("kind").asText()))).isEmpty();
    Map<String, String> env = env(one(objects, "Deployment"));
    assertThat(OperatorConfig.fromEnvironment(env).watchNamespaces()).isEmpty(); // empty = all
    // A list of namespaces and "all of them" at once is a mistake the schema catches.
    assertThatThrownBy(
            () ->
                render(t -> t.set("watchAllNamespaces", true).set("watchNamespaces[0]", "team-a")))
        .hasMessageContaining("watchNamespaces");
  }

  @Test
  void withoutSelfManagedPodsTheOperatorHoldsNoPodRights() throws IOException {
    for (List<JsonNode> objects :
        List.of(
            render(t -> t.set("rbac.selfManagedPods", false)),
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
    Map<String, String> env =
        env(
            one(
                render(
                    t ->
                        t.set("isolationPolicy.docker.allowedRuntimes[0]", "runsc")
                            .set("isolationPolicy.docker.allowedRuntimes[1]", "runc")
                            .set("isolationPolicy.docker.allowPlainTcp", true)
                            .set("isolationPolicy.docker.maxContainersPerProvider", 40)
                            .set("isolationPolicy.selfManaged.allowedRuntimeClasses[0]", "gvisor")
                            .set("isolationPolicy.selfManaged.allowedRuntimeClasses[1]", "kata")
                            .set(
                                "isolationPolicy.selfManaged.allowedRuntimeClassHandlers[0]",
                                "runsc")
                            .set(
                                "isolationPolicy.selfManaged.allowedRuntimeClassHandlers[1]",
                                "kata-qemu")
                            .set("isolationPolicy.selfManaged.allowEgress", true)),
                "Deployment"));
    IsolationPolicy policy = OperatorConfig.fromEnvironment(env).isolationPolicy();
    assertThat(policy.dockerRuntimes()).containsExactlyInAnyOrder("runsc", "runc");
    assertThat(policy.dockerNetworks()).containsExactly("none");
    assertThat(policy.dockerPlainTcp()).isTrue();
    assertThat(policy.dockerMaxContainers()).isEqualTo(40);
    assertThat(policy.runtimeClasses()).containsExactlyInAnyOrder("gvisor", "kata");
    assertThat(policy.runtimeClassHandlers()).containsExactlyInAnyOrder("runsc", "kata-qemu");
    assertThat(policy.selfManagedEgress()).isTrue();
    assertThatThrownBy(
            () -> render(t -> t.set("isolationPolicy.docker.allowedRuntimes[0]", "runc; rm -rf /")))
        .hasMessageContaining("allowedRuntimes");
  }

  private static List<JsonNode> operatorRoles(List<JsonNode> objects) {
    return objects.stream()
        .filter(
            o ->
                o.path("kind").asText().endsWith("Role")
                    && !o.at("/metadata/name").asText().matches(".*-(admin|edit|view)$"))
        .toList();
  }

  private static Map<String, String> env(JsonNode deployment) {
    Map<String, String> env = new java.util.HashMap<>();
    deployment
        .at("/spec/template/spec/containers/0/env")
        .forEach(e -> env.put(e.get("name").asText(), e.path("value").asText(null)));
    env.values().removeIf(java.util.Objects::isNull); // fieldRef values
    return env;
  }

  private static <T> java.util.stream.Collector<T, ?, T> onlyOne() {
    return java.util.stream.Collectors.collectingAndThen(
        java.util.stream.Collectors.toList(),
        list -> {
          assertThat(list).hasSize(1);
          return list.get(0);
        });
  }

  @Test
  void rbacGrantsExactlyWhatTheSelfManagedBackendUses() throws IOException {
    for (List<JsonNode> objects :
        List.of(
            render(t -> t),
            render(t -> t.set("watchNamespaces[0]", "team-a")),
            render(t -> t.set("watchAllNamespaces", true)))) {
      List<JsonNode> rules = new ArrayList<>();
      operatorRoles(objects).forEach(o -> o.get("rules").forEach(rules::add));
      // Pods: created, watched by the pool's informer, claimed by an update, labelled back,
      // deleted.
      assertThat(verbs(rules, "", "pods"))
          .containsExactly("get", "list", "watch", "create", "update", "delete");
      // Status: whole-status PUTs on the resourceVersion read; nothing patches it.
      assertThat(verbs(rules, "sandboxes.dev", "codeexecutions/status"))
          .containsExactly("get", "update");
      assertThat(verbs(rules, "sandboxes.dev", "sandboxproviders/status"))
          .containsExactly("get", "update");
      // Exec: a websocket upgrade of a GET or POST, so both verbs.
      assertThat(verbs(rules, "", "pods/exec")).containsExactly("create", "get");
      // The NetworkPolicy: read, created, updated back to the desired spec; the garbage collector
      // deletes it with its provider (owner reference).
      assertThat(verbs(rules, "networking.k8s.io", "networkpolicies"))
          .containsExactly("get", "create", "update");
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
      boolean matches =
          rule.get("apiGroups").toString().contains("\"" + group + "\"")
              && rule.get("resources").toString().contains("\"" + resource + "\"");
      if (matches) {
        rule.get("verbs").forEach(v -> verbs.add(v.asText()));
      }
    }
    return verbs;
  }

  @Test
  void watchNamespacesGetARoleEach() throws IOException {
    List<JsonNode> objects =
        render(t -> t.set("watchNamespaces[0]", "team-a").set("watchNamespaces[1]", "team-b"));
    List<String> roleNamespaces = new ArrayList<>();
    objects.stream()
        .filter(o -> "Role".equals(o.path("kind").asText()))
        .forEach(o -> roleNamespaces.add(o.at("/metadata/namespace").asText()));
    assertThat(roleNamespaces).containsExactlyInAnyOrder("team-a", "team-b");
    JsonNode env = one(objects, "Deployment").at("/spec/template/spec/containers/0/env");
    assertThat(env.toString()).contains("\"team-a,team-b\"");
    assertThat(
            objects.stream()
                .filter(o -> "ClusterRole".equals(o.path("kind").asText()))
                .map(o -> o.at("/metadata/name").asText()))
        .contains("test-sandbox-operator-runtimeclasses");
  }

  @Test
  void leaderElectionAddsALeaseRoleAndAllowsSeveralReplicas() throws IOException {
    List<JsonNode> objects =
        render(
            t ->
                t.set("leaderElection.enabled", true)
                    .set("replicaCount", 2)
                    .set("podDisruptionBudget.enabled", true));
    JsonNode lease =
        objects.stream()
            .filter(
                o ->
                    "Role".equals(o.path("kind").asText())
                        && o.at("/metadata/name").asText().endsWith("-leader-election"))
            .findFirst()
            .orElseThrow();
    assertThat(lease.at("/rules/0/resources/0").asText()).isEqualTo("leases");
    // fabric8 renews with PATCH (a 403 there loses the lease and exits the pod); JOSDK checks
    // get, create and update before it starts.
    assertThat(lease.at("/rules/0/verbs").toString())
        .isEqualTo("[\"get\",\"create\",\"update\",\"patch\"]");
    assertThat(one(objects, "Deployment").at("/spec/replicas").asInt()).isEqualTo(2);
    assertThat(kinds(objects)).contains("PodDisruptionBudget");
  }

  @Test
  void severalReplicasWithoutLeaderElectionAreRejected() {
    assertThatThrownBy(() -> render(t -> t.set("replicaCount", 2)))
        .hasMessageContaining("leaderElection");
  }

  @Test
  void theDefaultProviderIsAnnotatedAndValid() throws IOException {
    JsonNode provider = one(render(t -> t.set("defaultProvider.enabled", true)), "SandboxProvider");
    assertThat(provider.at("/metadata/annotations").toString())
        .contains("sandboxes.dev/is-default-provider");
    SandboxProvider model = YAML.treeToValue(provider, SandboxProvider.class);
    assertThat(SandboxProviderValidator.validate(model.getSpec())).isEmpty();
  }

  @Test
  void optionalObjectsAppearOnlyWhenAskedFor() throws IOException {
    assertThat(kinds(render(t -> t)))
        .doesNotContain("ServiceMonitor", "RuntimeClass", "PodDisruptionBudget", "SandboxProvider")
        .contains("Service", "ServiceAccount", "ClusterRoleBinding");
    assertThat(
            kinds(
                render(
                    t ->
                        t.set("metrics.serviceMonitor.enabled", true)
                            .set("runtimeClass.create", true))))
        .contains("ServiceMonitor", "RuntimeClass");
  }

  @Test
  void theDashboardAndTheRulesAreOffByDefault() throws IOException {
    List<JsonNode> objects = render(t -> t);
    assertThat(kinds(objects)).doesNotContain("PrometheusRule");
    assertThat(objects).noneMatch(o -> o.at("/metadata/labels/grafana_dashboard").isTextual());
  }

  /** helm lint takes no values: a copy of the chart whose values.yaml switches both on. */
  @Test
  void theChartLintsWithTheDashboardAndTheRulesOn(@TempDir Path temp) throws IOException {
    Path copy = temp.resolve("sandbox-operator");
    try (var files = java.nio.file.Files.walk(CHART)) {
      for (Path file : files.toList()) {
        Path target = copy.resolve(CHART.relativize(file).toString());
        if (java.nio.file.Files.isDirectory(file)) {
          java.nio.file.Files.createDirectories(target);
        } else {
          java.nio.file.Files.copy(file, target);
        }
      }
    }
    Path values = copy.resolve("values.yaml");
    String text = java.nio.file.Files.readString(values);
    String switched =
        text.replace(
                "dashboard:\n  # -- Create the dashboard ConfigMap.\n  enabled: false",
                "dashboard:\n  # -- Create the dashboard ConfigMap.\n  enabled: true")
            .replace(
                "prometheusRule:\n  # -- Create the PrometheusRule.\n  enabled: false",
                "prometheusRule:\n  # -- Create the PrometheusRule.\n  enabled: true");
    assertThat(switched).isNotEqualTo(text);
    java.nio.file.Files.writeString(values, switched);
    LintResult result = new Helm(copy).lint().strict().call();
    assertThat(result.isFailed()).as(String.join("\n", result.getMessages())).isFalse();
    assertThat(kinds(MonitoringQueries.objects(new Helm(copy).template().withName("test").call())))
        .contains("PrometheusRule", "ConfigMap");
  }

  @Test
  void theDashboardIsAGrafanaDashboardInALabelledConfigMap() throws IOException {
    List<JsonNode> objects =
        render(
            t ->
                t.set("dashboard.enabled", true)
                    .set("dashboard.namespace", "monitoring")
                    .set("dashboard.annotations.grafana_folder", "Sandboxes"));
    JsonNode configMap =
        objects.stream()
            .filter(o -> "ConfigMap".equals(o.path("kind").asText()))
            .findFirst()
            .orElseThrow();
    assertThat(configMap.at("/metadata/labels/grafana_dashboard").asText()).isEqualTo("1");
    assertThat(configMap.at("/metadata/namespace").asText()).isEqualTo("monitoring");
    assertThat(configMap.at("/metadata/annotations/grafana_folder").asText())
        .isEqualTo("Sandboxes");
    // Valid JSON, and the same bytes as the dashboard file (Helm does not template it).
    JsonNode dashboard = MonitoringQueries.dashboard(objects);
    assertThat(dashboard)
        .isEqualTo(
            new ObjectMapper()
                .readTree(CHART.resolve("dashboards/sandbox-operator.json").toFile()));
    assertThat(dashboard.path("uid").asText()).isEqualTo("sandbox-operator");
    assertThat(dashboard.path("title").asText()).isNotBlank();
    assertThat(dashboard.path("schemaVersion").asInt()).isGreaterThanOrEqualTo(36);
    List<String> titles = new ArrayList<>();
    java.util.Set<Integer> ids = new java.util.HashSet<>();
    for (JsonNode panel : dashboard.path("panels")) {
      assertThat(ids.add(panel.path("id").asInt()))
          .as("unique panel id %s", panel.path("id"))
          .isTrue();
      assertThat(panel.at("/gridPos/w").asInt()).isBetween(1, 24);
      if ("row".equals(panel.path("type").asText())) {
        continue;
      }
      titles.add(panel.path("title").asText());
      assertThat(panel.at("/datasource/uid").asText()).isEqualTo("${datasource}");
      assertThat(panel.path("targets")).as(panel.path("title").asText()).isNotEmpty();
      java.util.Set<String> refIds = new java.util.HashSet<>();
      for (JsonNode target : panel.path("targets")) {
        assertThat(target.path("expr").asText()).isNotBlank();
        assertThat(refIds.add(target.path("refId").asText())).isTrue();
      }
    }
    // What issue 16 asks the dashboard to show.
    assertThat(titles)
        .contains(
            "Executions per second by phase",
            "Finished per second by reason",
            "Execution duration",
            "Startup: created to Started",
            "Queue: oldest waiting execution",
            "Pool sizes",
            "Provider readiness",
            "SaaS calls per second by outcome",
            "SaaS throttled and failed share");
    String queries = MonitoringQueries.dashboardQueries(dashboard).toString();
    assertThat(queries)
        .contains("sandbox_pool_ready")
        .contains("sandbox_pool_claimed")
        .contains("sandbox_pool_starting")
        .contains("histogram_quantile(0.99");
  }

  @Test
  void thePrometheusRuleHasTheFourAlertsEachWithSummaryDescriptionAndRunbook() throws IOException {
    JsonNode rule =
        MonitoringQueries.prometheusRule(render(t -> t.set("prometheusRule.enabled", true)));
    assertThat(rule.path("apiVersion").asText()).isEqualTo("monitoring.coreos.com/v1");
    Map<String, JsonNode> alerts = alerts(rule);
    assertThat(alerts)
        .containsOnlyKeys(
            "SandboxProviderNotReady",
            "SandboxExecutionWaitingTooLong",
            "SandboxFailedRateHigh",
            "SandboxOperatorDown");
    alerts.forEach(
        (name, alert) -> {
          assertThat(alert.at("/annotations/summary").asText()).as(name).isNotBlank();
          assertThat(alert.at("/annotations/description").asText()).as(name).isNotBlank();
          assertThat(alert.at("/annotations/runbook").asText())
              .as(name)
              .contains(
                  "helm/sandbox-operator/README.md#" + name.toLowerCase(java.util.Locale.ROOT));
          assertThat(alert.at("/labels/severity").asText()).as(name).isIn("warning", "critical");
        });
    // The defaults, and the series of this release only (the chart's ServiceMonitor sets job to the
    // Service).
    String selector = "job=\"test-sandbox-operator-metrics\", namespace=\"sandbox-system\"";
    assertThat(alerts.get("SandboxProviderNotReady").path("expr").asText())
        .isEqualTo(
            "max by (type) (sandbox_provider_not_ready_longest_seconds{" + selector + "}) > 300");
    assertThat(alerts.get("SandboxExecutionWaitingTooLong").path("expr").asText())
        .isEqualTo(
            "max by (type, language) (sandbox_codeexecution_waiting_oldest_seconds{"
                + selector
                + "}) > 120");
    assertThat(alerts.get("SandboxFailedRateHigh").path("expr").asText())
        .contains("outcome=\"SandboxFailed\"}[10m]")
        .endsWith("> 5");
    assertThat(alerts.get("SandboxFailedRateHigh").path("for").asText()).isEqualTo("5m");
    assertThat(alerts.get("SandboxOperatorDown").path("expr").asText())
        .isEqualTo("absent(up{" + selector + "} == 1)");
    assertThat(alerts.get("SandboxOperatorDown").path("for").asText()).isEqualTo("5m");
    // Prometheus's own template syntax reaches the rule untouched by Helm.
    assertThat(alerts.get("SandboxProviderNotReady").at("/annotations/summary").asText())
        .contains("{{ $labels.type }}");
  }

  @Test
  void theAlertThresholdsSelectorAndRunbookUrlComeFromValues() throws IOException {
    JsonNode rule =
        MonitoringQueries.prometheusRule(
            render(
                t ->
                    t.set("prometheusRule.enabled", true)
                        .set("prometheusRule.providerNotReadySeconds", 600)
                        .set("prometheusRule.executionWaitSeconds", 45)
                        .set("prometheusRule.sandboxFailedPercent", 20)
                        .set("prometheusRule.window", "30m")
                        .set("prometheusRule.selector", "service=\"sandbox\"")
                        .set("prometheusRule.runbookBaseUrl", "https://docs.example.test/chart")
                        .set("prometheusRule.labels.release", "kube-prometheus")
                        .set("prometheusRule.alertLabels.team", "agents")));
    Map<String, JsonNode> alerts = alerts(rule);
    assertThat(alerts.get("SandboxProviderNotReady").path("expr").asText())
        .isEqualTo(
            "max by (type) (sandbox_provider_not_ready_longest_seconds{service=\"sandbox\"}) > 600");
    assertThat(alerts.get("SandboxExecutionWaitingTooLong").path("expr").asText()).endsWith("> 45");
    assertThat(alerts.get("SandboxFailedRateHigh").path("expr").asText())
        .contains("[30m]")
        .endsWith("> 20");
    assertThat(alerts.get("SandboxOperatorDown").at("/annotations/runbook_url").asText())
        .isEqualTo("https://docs.example.test/chart#sandboxoperatordown");
    assertThat(alerts.get("SandboxOperatorDown").at("/labels/team").asText()).isEqualTo("agents");
    assertThat(rule.at("/metadata/labels/release").asText()).isEqualTo("kube-prometheus");
  }

  @Test
  void badAlertValuesAreRejectedByTheSchema() {
    assertThatThrownBy(
            () ->
                render(
                    t ->
                        t.set("prometheusRule.enabled", true)
                            .set("prometheusRule.sandboxFailedPercent", 150)))
        .hasMessageContaining("sandboxFailedPercent");
    assertThatThrownBy(
            () ->
                render(
                    t ->
                        t.set("prometheusRule.enabled", true)
                            .set("prometheusRule.window", "ten minutes")))
        .hasMessageContaining("window");
    assertThatThrownBy(() -> render(t -> t.set("dashboard.enabld", true)))
        .hasMessageContaining("enabld");
  }

  @Test
  void everyDashboardAndAlertQueryNamesOperatorMetrics() {
    List<MonitoringQueries.Query> queries = MonitoringQueries.all();
    for (MonitoringQueries.Query query : queries) {
      assertThat(PromQl.metricNames(query.expression())).as(query.toString()).isNotEmpty();
    }
    // Which names the checks against a running operator (DashboardMetricsMockTest, MonitoringE2E)
    // look for.
    assertThat(MonitoringQueries.metricNames(queries).keySet())
        .allMatch(
            name -> name.startsWith("sandbox_") || name.equals("up") || name.startsWith("jvm_"));
  }

  private static Map<String, JsonNode> alerts(JsonNode rule) {
    Map<String, JsonNode> alerts = new java.util.LinkedHashMap<>();
    rule.at("/spec/groups")
        .forEach(g -> g.path("rules").forEach(r -> alerts.put(r.path("alert").asText(), r)));
    return alerts;
  }

  private static List<JsonNode> render(UnaryOperator<TemplateCommand> values) throws IOException {
    String manifest =
        values
            .apply(new Helm(CHART).template().withName("test").withNamespace("sandbox-system"))
            .call();
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
    return objects.stream()
        .filter(o -> kind.equals(o.path("kind").asText()))
        .findFirst()
        .orElseThrow();
  }

  private static List<String> kinds(List<JsonNode> objects) {
    return objects.stream().map(o -> o.path("kind").asText()).toList();
  }
}
