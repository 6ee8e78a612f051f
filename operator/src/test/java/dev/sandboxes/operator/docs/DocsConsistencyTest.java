package dev.sandboxes.operator.docs;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.TemplateCommand;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.operator.events.EventRecorder;
import dev.sandboxes.operator.testing.MonitoringQueries;
import dev.sandboxes.operator.testing.ProjectPaths;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The docs say what the code and the chart do: the README's condition and event reasons are exactly
 * those the code can produce, and the RBAC tables are exactly the chart's rules. No cluster: the
 * sources are read as text and the chart is rendered offline with helm-java.
 */
class DocsConsistencyTest {

  private static final Path ROOT = ProjectPaths.root();
  private static final Path CONDITION_TYPES =
      ROOT.resolve("crds/src/main/java/dev/sandboxes/api/v1alpha1/ConditionTypes.java");
  private static final List<Path> MAIN_SOURCES = List.of(
      ROOT.resolve("operator/src/main/java"), ROOT.resolve("crds/src/main/java"), ROOT.resolve("client/src/main/java"));
  private static final Pattern CONSTANT = Pattern.compile("public static final String (\\w+) = \"(\\w+)\";");

  @Test
  void theReadmeListsExactlyTheConditionReasonsTheCodeSets() {
    Map<String, String> reasons = declaredConditionReasons();
    Set<String> produced = usedConditionReasons();
    assertThat(produced).as("reasons found in use (a guard on this test's scan)").hasSizeGreaterThan(20);
    assertThat(readmeColumn("### Condition reasons"))
        .as("README 'Condition reasons' against the ConditionTypes reasons used in src/main "
            + "(declared, never used: %s)", unused(reasons.values(), produced))
        .containsExactlyInAnyOrderElementsOf(produced);
  }

  @Test
  void theReadmeListsExactlyTheEventReasonsTheCodeRecords() {
    String code = mainSources(ROOT.resolve("operator/src/main/java/dev/sandboxes/operator/events/EventRecorder.java"));
    // The execution reconciler also turns a condition reason into the event reason of the same name.
    Set<String> bridged = code.contains("Reason.valueOf(") ? usedConditionReasons() : Set.of();
    Set<String> produced = new TreeSet<>();
    for (EventRecorder.Reason reason : EventRecorder.Reason.values()) {
      if (bridged.contains(reason.name())
          || Pattern.compile("\\bReason\\." + reason.name() + "\\b").matcher(code).find()) {
        produced.add(reason.name());
      }
    }
    assertThat(produced).as("event reasons found in use (a guard on this test's scan)").hasSizeGreaterThan(15);
    List<String> all = Arrays.stream(EventRecorder.Reason.values()).map(Enum::name).toList();
    assertThat(readmeColumn("### Event reasons"))
        .as("README 'Event reasons' against the EventRecorder.Reason values recorded in src/main "
            + "(declared, never recorded: %s)", unused(all, produced))
        .containsExactlyInAnyOrderElementsOf(produced);
  }

  @Test
  void theChartReadmeRbacTableIsTheChartsRules() {
    Map<String, Set<String>> granted = grants(render(t -> t.set("leaderElection.enabled", true)));
    assertThat(granted).as("the chart renders rules at all").containsKey("/pods");
    assertThat(documented(read(ROOT.resolve("helm/sandbox-operator/README.md")), "## RBAC and the default install"))
        .as("helm/sandbox-operator/README.md RBAC table against the rendered chart (leaderElection.enabled)")
        .isEqualTo(granted);
  }

  @Test
  void theSelfManagedRbacTableIsWhatRbacSelfManagedPodsAdds() {
    Map<String, Set<String>> with = grants(render(t -> t));
    Map<String, Set<String>> without = grants(render(t -> t.set("rbac.selfManagedPods", false)));
    Map<String, Set<String>> added = new TreeMap<>();
    with.forEach((resource, verbs) -> {
      Set<String> extra = new TreeSet<>(verbs);
      extra.removeAll(without.getOrDefault(resource, Set.of()));
      if (!extra.isEmpty()) {
        added.put(resource, extra);
      }
    });
    assertThat(added).as("rbac.selfManagedPods adds rules").isNotEmpty();
    assertThat(documented(read(ROOT.resolve("docs/providers/selfmanaged.md")), "## RBAC"))
        .as("docs/providers/selfmanaged.md RBAC table against what rbac.selfManagedPods adds to the chart")
        .isEqualTo(added);
  }

  /** The reason constants of ConditionTypes (name to value): everything after the types section. */
  private static Map<String, String> declaredConditionReasons() {
    String source = read(CONDITION_TYPES);
    int reasonsStart = source.indexOf("// ---- SandboxProvider reasons ----");
    assertThat(reasonsStart).as("ConditionTypes.java has its sections").isPositive();
    Map<String, String> all = constants(source);
    assertThat(all.values()).as("the source scan finds every constant")
        .containsExactlyInAnyOrderElementsOf(reflectedConstants());
    Map<String, String> reasons = constants(source.substring(reasonsStart));
    assertThat(reasons).isNotEmpty().doesNotContainKeys("READY", "ACCEPTED", "STARTED", "SUCCEEDED", "CANARY_PASSED");
    return reasons;
  }

  /** The values of the ConditionTypes reasons that src/main refers to by name. */
  private static Set<String> usedConditionReasons() {
    String code = mainSources(CONDITION_TYPES);
    Set<String> used = new TreeSet<>();
    declaredConditionReasons().forEach((constant, value) -> {
      if (Pattern.compile("\\bConditionTypes\\." + constant + "\\b").matcher(code).find()) {
        used.add(value);
      }
    });
    return used;
  }

  private static Map<String, String> constants(String source) {
    Map<String, String> constants = new LinkedHashMap<>();
    Matcher m = CONSTANT.matcher(source);
    while (m.find()) {
      constants.put(m.group(1), m.group(2));
    }
    return constants;
  }

  private static List<String> reflectedConstants() {
    List<String> values = new ArrayList<>();
    for (Field field : ConditionTypes.class.getDeclaredFields()) {
      if (Modifier.isStatic(field.getModifiers()) && field.getType() == String.class) {
        try {
          values.add((String) field.get(null));
        } catch (IllegalAccessException e) {
          throw new AssertionError(e);
        }
      }
    }
    return values;
  }

  private static Set<String> unused(Collection<String> declared, Set<String> produced) {
    Set<String> unused = new TreeSet<>(declared);
    unused.removeAll(produced);
    return unused;
  }

  /** The first-column names of the README table under {@code heading}, each exactly once. */
  private static List<String> readmeColumn(String heading) {
    List<String> names = new ArrayList<>();
    for (List<String> row : MarkdownTables.rows(read(ROOT.resolve("README.md")), heading)) {
      List<String> spans = MarkdownTables.codeSpans(row.get(0));
      assertThat(spans).as("first cell of %s", row).hasSize(1);
      names.add(spans.get(0));
    }
    assertThat(names).as("%s lists each reason once", heading).doesNotHaveDuplicates();
    return names;
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
      Set<String> verbs = Arrays.stream(row.get(1).split(","))
          .map(String::strip).collect(Collectors.toCollection(TreeSet::new));
      assertThat(table.put(key, verbs)).as("%s appears once", key).isNull();
    }
    return table;
  }

  /** Every verb the operator's own Roles and ClusterRoles grant, by "group/resource". */
  private static Map<String, Set<String>> grants(List<JsonNode> objects) {
    Map<String, Set<String>> grants = new TreeMap<>();
    objects.stream()
        .filter(o -> o.path("kind").asText().endsWith("Role")
            // the aggregated roles are for people, not for the operator
            && !o.at("/metadata/name").asText().matches(".*-(admin|edit|view)$"))
        .forEach(role -> role.path("rules").forEach(rule -> rule.path("apiGroups").forEach(group ->
            rule.path("resources").forEach(resource -> rule.path("verbs").forEach(verb ->
                grants.computeIfAbsent(group.asText() + "/" + resource.asText(), k -> new TreeSet<>())
                    .add(verb.asText()))))));
    return grants;
  }

  private static List<JsonNode> render(UnaryOperator<TemplateCommand> values) {
    return MonitoringQueries.objects(values.apply(new Helm(ROOT.resolve("helm/sandbox-operator")).template()
        .withName("docs").withNamespace("sandbox-system")).call());
  }

  /** The Java sources under src/main of every module, as one text, without {@code except}. */
  private static String mainSources(Path except) {
    StringBuilder all = new StringBuilder();
    for (Path dir : MAIN_SOURCES) {
      try (Stream<Path> files = Files.walk(dir)) {
        for (Path file : files.filter(p -> p.toString().endsWith(".java") && !p.equals(except)).sorted().toList()) {
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
