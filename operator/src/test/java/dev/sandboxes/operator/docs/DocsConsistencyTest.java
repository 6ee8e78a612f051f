package dev.sandboxes.operator.docs;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.TemplateCommand;
import dev.sandboxes.api.v1alpha1.CodeExecutionReason;
import dev.sandboxes.api.v1alpha1.Reason;
import dev.sandboxes.api.v1alpha1.SandboxProviderReason;
import dev.sandboxes.operator.testing.MonitoringQueries;
import dev.sandboxes.operator.testing.ProjectPaths;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The docs say what the code and the chart do: the README's condition and event reasons are exactly
 * those of the reason enums (on the right kind), every reason of the enums is produced by the code,
 * and the RBAC tables are exactly the chart's rules. No cluster: the sources are read as text and
 * the chart is rendered offline with helm-java.
 */
@Tag("unit")
class DocsConsistencyTest {

  private static final Path ROOT = ProjectPaths.root();
  private static final List<Path> MAIN_SOURCES =
      List.of(
          ROOT.resolve("operator/src/main/java"),
          ROOT.resolve("crds/src/main/java"),
          ROOT.resolve("client/src/main/java"));
  private static final List<Class<? extends Enum<?>>> REASON_ENUMS =
      List.of(CodeExecutionReason.class, SandboxProviderReason.class);

  @Test
  void everyReasonOfTheEnumsIsProducedSomewhere() {
    for (Class<? extends Enum<?>> kind : REASON_ENUMS) {
      Path file =
          ROOT.resolve(
              "crds/src/main/java/dev/sandboxes/api/v1alpha1/" + kind.getSimpleName() + ".java");
      String code = mainSources(file);
      Set<String> unused = new TreeSet<>();
      for (Enum<?> reason : kind.getEnumConstants()) {
        if (!Pattern.compile("\\b" + kind.getSimpleName() + "\\." + reason.name() + "\\b")
            .matcher(code)
            .find()) {
          unused.add(reason.name());
        }
      }
      assertThat(unused)
          .as(
              "%s constants that src/main never refers to (drop them, and from the README)",
              kind.getSimpleName())
          .isEmpty();
    }
  }

  @Test
  void theReadmeListsExactlyTheConditionReasonsOfTheEnums() {
    Map<String, String> documented = readmeTable("### Condition reasons");
    Set<String> declared = new TreeSet<>();
    reasons().filter(Reason::onConditions).forEach(r -> declared.add(r.value()));
    assertThat(declared).as("condition reasons (a guard on this test)").hasSizeGreaterThan(30);
    assertThat(documented.keySet())
        .as("README 'Condition reasons' against the enums' condition reasons")
        .containsExactlyInAnyOrderElementsOf(declared);
    documented.forEach(
        (reason, conditions) -> {
          assertThat(conditions.contains("provider"))
              .as("README: %s is a provider condition reason (%s)", reason, conditions)
              .isEqualTo(onConditions(SandboxProviderReason.values(), reason));
          assertThat(conditions.contains("execution"))
              .as("README: %s is an execution condition reason (%s)", reason, conditions)
              .isEqualTo(onConditions(CodeExecutionReason.values(), reason));
        });
  }

  @Test
  void theReadmeListsExactlyTheEventReasonsOfTheEnums() {
    Set<String> documented = new TreeSet<>();
    readmeTableRows("### Event reasons")
        .forEach(row -> documented.add(row.get(1).strip() + "/" + row.get(0)));
    Set<String> declared = new TreeSet<>();
    Arrays.stream(CodeExecutionReason.values())
        .filter(Reason::onEvents)
        .forEach(r -> declared.add("CodeExecution/" + r.value()));
    Arrays.stream(SandboxProviderReason.values())
        .filter(Reason::onEvents)
        .forEach(r -> declared.add("SandboxProvider/" + r.value()));
    assertThat(declared).as("event reasons (a guard on this test)").hasSizeGreaterThan(25);
    assertThat(documented)
        .as("README 'Event reasons' (On/Reason) against the enums' event reasons")
        .containsExactlyInAnyOrderElementsOf(declared);
  }

  @Test
  void theChartReadmeRbacTableIsTheChartsRules() {
    Map<String, Set<String>> granted = grants(render(t -> t.set("leaderElection.enabled", true)));
    assertThat(granted).as("the chart renders rules at all").containsKey("/pods");
    assertThat(
            documented(
                read(ROOT.resolve("helm/sandbox-operator/README.md")),
                "## RBAC and the default install"))
        .as(
            "helm/sandbox-operator/README.md RBAC table against the rendered chart (leaderElection.enabled)")
        .isEqualTo(granted);
  }

  @Test
  void theSelfManagedRbacTableIsWhatRbacSelfManagedPodsAdds() {
    Map<String, Set<String>> with = grants(render(t -> t));
    Map<String, Set<String>> without = grants(render(t -> t.set("rbac.selfManagedPods", false)));
    Map<String, Set<String>> added = new TreeMap<>();
    with.forEach(
        (resource, verbs) -> {
          Set<String> extra = new TreeSet<>(verbs);
          extra.removeAll(without.getOrDefault(resource, Set.of()));
          if (!extra.isEmpty()) {
            added.put(resource, extra);
          }
        });
    assertThat(added).as("rbac.selfManagedPods adds rules").isNotEmpty();
    assertThat(documented(read(ROOT.resolve("docs/providers/selfmanaged.md")), "## RBAC"))
        .as(
            "docs/providers/selfmanaged.md RBAC table against what rbac.selfManagedPods adds to the chart")
        .isEqualTo(added);
  }

  private static Stream<Reason> reasons() {
    return Stream.<Reason>concat(
        Arrays.stream(CodeExecutionReason.values()), Arrays.stream(SandboxProviderReason.values()));
  }

  private static boolean onConditions(Reason[] reasons, String value) {
    return Arrays.stream(reasons).anyMatch(r -> r.onConditions() && r.is(value));
  }

  /**
   * The README table under {@code heading}: the reason in the first cell to the second cell, each
   * reason once.
   */
  private static Map<String, String> readmeTable(String heading) {
    Map<String, String> table = new LinkedHashMap<>();
    for (List<String> row : readmeTableRows(heading)) {
      assertThat(table.put(row.get(0), row.get(1)))
          .as("%s lists %s once", heading, row.get(0))
          .isNull();
    }
    return table;
  }

  /**
   * The rows of the README table under {@code heading}, the first cell reduced to its one code
   * span.
   */
  private static List<List<String>> readmeTableRows(String heading) {
    List<List<String>> rows = new ArrayList<>();
    for (List<String> row : MarkdownTables.rows(read(ROOT.resolve("README.md")), heading)) {
      List<String> spans = MarkdownTables.codeSpans(row.get(0));
      assertThat(spans).as("first cell of %s", row).hasSize(1);
      List<String> cells = new ArrayList<>(row);
      cells.set(0, spans.get(0));
      rows.add(cells);
    }
    assertThat(rows.stream().map(r -> r.get(1) + "/" + r.get(0)).toList())
        .as("%s lists each reason once", heading)
        .doesNotHaveDuplicates();
    return rows;
  }

  /**
   * An RBAC table as "group/resource" to verbs: the first cell is `group` `resource`, or `resource`
   * alone for the core group; the second the verbs, comma-separated.
   */
  private static Map<String, Set<String>> documented(String markdown, String heading) {
    Map<String, Set<String>> table = new TreeMap<>();
    for (List<String> row : MarkdownTables.rows(markdown, heading)) {
      List<String> spans = MarkdownTables.codeSpans(row.get(0));
      assertThat(spans).as("resource cell of %s", row).hasSizeBetween(1, 2);
      String key = spans.size() == 1 ? "/" + spans.get(0) : spans.get(0) + "/" + spans.get(1);
      Set<String> verbs =
          Arrays.stream(row.get(1).split(","))
              .map(String::strip)
              .collect(Collectors.toCollection(TreeSet::new));
      assertThat(table.put(key, verbs)).as("%s appears once", key).isNull();
    }
    return table;
  }

  /** Every verb the operator's own Roles and ClusterRoles grant, by "group/resource". */
  private static Map<String, Set<String>> grants(List<JsonNode> objects) {
    Map<String, Set<String>> grants = new TreeMap<>();
    objects.stream()
        .filter(
            o ->
                o.path("kind").asText().endsWith("Role")
                    // the aggregated roles are for people, not for the operator
                    && !o.at("/metadata/name").asText().matches(".*-(admin|edit|view)$"))
        .forEach(
            role ->
                role.path("rules")
                    .forEach(
                        rule ->
                            rule.path("apiGroups")
                                .forEach(
                                    group ->
                                        rule.path("resources")
                                            .forEach(
                                                resource ->
                                                    rule.path("verbs")
                                                        .forEach(
                                                            verb ->
                                                                grants
                                                                    .computeIfAbsent(
                                                                        group.asText()
                                                                            + "/"
                                                                            + resource.asText(),
                                                                        k -> new TreeSet<>())
                                                                    .add(verb.asText()))))));
    return grants;
  }

  private static List<JsonNode> render(UnaryOperator<TemplateCommand> values) {
    return MonitoringQueries.objects(
        values
            .apply(
                new Helm(ROOT.resolve("helm/sandbox-operator"))
                    .template()
                    .withName("docs")
                    .withNamespace("sandbox-system"))
            .call());
  }

  /** The Java sources under src/main of every module, as one text, without {@code except}. */
  private static String mainSources(Path except) {
    StringBuilder all = new StringBuilder();
    for (Path dir : MAIN_SOURCES) {
      try (Stream<Path> files = Files.walk(dir)) {
        for (Path file :
            files
                .filter(p -> p.toString().endsWith(".java") && !p.equals(except))
                .sorted()
                .toList()) {
          all.append(read(file)).append('\n');
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return all.toString();
  }

  private static String read(Path file) {
    try {
      return Files.readString(file);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
