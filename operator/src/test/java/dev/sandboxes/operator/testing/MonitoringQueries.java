package dev.sandboxes.operator.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.marcnuri.helm.Helm;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Every PromQL query the chart ships, read from the chart rendered with the dashboard and the
 * PrometheusRule switched on: the dashboard's panel targets and variable queries, and the alert
 * expressions. Tests check that each metric they name is served by a running operator.
 */
public final class MonitoringQueries {

  /** One query and where it comes from (panel title, variable or alert name). */
  public record Query(String source, String expression) {}

  private static final Path CHART = ProjectPaths.root().resolve("helm/sandbox-operator");
  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Grafana's label_values(metric{...}, label): only the first argument is a selector. */
  private static final Pattern LABEL_VALUES =
      Pattern.compile(
          "^\\s*label_values\\((.*),\\s*[a-zA-Z_][a-zA-Z0-9_]*\\s*\\)\\s*$", Pattern.DOTALL);

  private MonitoringQueries() {}

  /** The rendered chart's objects with both switches on. */
  public static List<JsonNode> renderWithMonitoring() {
    String manifest =
        new Helm(CHART)
            .template()
            .withName("test")
            .withNamespace("sandbox-system")
            .set("dashboard.enabled", true)
            .set("prometheusRule.enabled", true)
            .call();
    return objects(manifest);
  }

  /** The YAML documents of a manifest that are Kubernetes objects. */
  public static List<JsonNode> objects(String manifest) {
    List<JsonNode> objects = new ArrayList<>();
    try (var parser = YAML.getFactory().createParser(manifest)) {
      while (parser.nextToken() != null) {
        JsonNode node = YAML.readTree(parser);
        if (node != null && node.has("kind")) {
          objects.add(node);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("the rendered chart is not valid YAML", e);
    }
    return objects;
  }

  /** The dashboard JSON of the rendered ConfigMap, parsed. */
  public static JsonNode dashboard(List<JsonNode> objects) {
    JsonNode configMap =
        objects.stream()
            .filter(
                o ->
                    "ConfigMap".equals(o.path("kind").asText())
                        && "1".equals(o.at("/metadata/labels/grafana_dashboard").asText()))
            .findFirst()
            .orElseThrow(
                () -> new AssertionError("no ConfigMap labelled grafana_dashboard: \"1\""));
    try {
      return JSON.readTree(configMap.at("/data/sandbox-operator.json").asText());
    } catch (IOException e) {
      throw new UncheckedIOException("the dashboard is not valid JSON", e);
    }
  }

  public static JsonNode prometheusRule(List<JsonNode> objects) {
    return objects.stream()
        .filter(o -> "PrometheusRule".equals(o.path("kind").asText()))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no PrometheusRule"));
  }

  /** Every query of the dashboard and the rules. */
  public static List<Query> all() {
    List<JsonNode> objects = renderWithMonitoring();
    List<Query> queries = new ArrayList<>(dashboardQueries(dashboard(objects)));
    queries.addAll(ruleQueries(prometheusRule(objects)));
    return queries;
  }

  public static List<Query> dashboardQueries(JsonNode dashboard) {
    List<Query> queries = new ArrayList<>();
    collectPanels(dashboard.path("panels"), queries);
    for (JsonNode variable : dashboard.at("/templating/list")) {
      if (!"query".equals(variable.path("type").asText())) {
        continue;
      }
      JsonNode query = variable.path("query");
      String text = query.isTextual() ? query.asText() : query.path("query").asText();
      Matcher labelValues = LABEL_VALUES.matcher(text);
      queries.add(
          new Query(
              "variable " + variable.path("name").asText(),
              labelValues.matches() ? labelValues.group(1) : text));
    }
    return queries;
  }

  private static void collectPanels(JsonNode panels, List<Query> queries) {
    for (JsonNode panel : panels) {
      for (JsonNode target : panel.path("targets")) {
        queries.add(
            new Query("panel " + panel.path("title").asText(), target.path("expr").asText()));
      }
      collectPanels(panel.path("panels"), queries); // panels of collapsed rows
    }
  }

  public static List<Query> ruleQueries(JsonNode rule) {
    List<Query> queries = new ArrayList<>();
    for (JsonNode group : rule.at("/spec/groups")) {
      for (JsonNode r : group.path("rules")) {
        String name =
            r.has("alert")
                ? "alert " + r.path("alert").asText()
                : "record " + r.path("record").asText();
        queries.add(new Query(name, r.path("expr").asText()));
      }
    }
    return queries;
  }

  /** Metric name → the queries that use it. */
  public static Map<String, List<String>> metricNames(List<Query> queries) {
    Map<String, List<String>> names = new TreeMap<>();
    for (Query query : queries) {
      for (String name : PromQl.metricNames(query.expression())) {
        names.computeIfAbsent(name, k -> new ArrayList<>()).add(query.source());
      }
    }
    return names;
  }

  /** For each queried metric a scrape does not serve: the problem and the queries that use it. */
  public static Map<String, String> unserved(List<Query> queries, String scrape) {
    MetricsExposition exposition = MetricsExposition.parse(scrape);
    Map<String, String> problems = new LinkedHashMap<>();
    metricNames(queries)
        .forEach(
            (name, sources) -> {
              Optional<String> problem = exposition.problemWith(name);
              problem.ifPresent(
                  p ->
                      problems.put(
                          name,
                          p + " (queried by " + String.join(", ", Set.copyOf(sources)) + ")"));
            });
    return problems;
  }
}
