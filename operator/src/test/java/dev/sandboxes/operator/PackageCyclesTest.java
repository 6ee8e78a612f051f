package dev.sandboxes.operator;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sandboxes.operator.testing.ProjectPaths;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * No package of operator/src/main imports a package that imports it back, directly or through
 * others: the packages form layers, so each can be read and changed knowing only those below it.
 * The sources are read as text; a dependency is an import or a qualified name in code.
 */
@Tag("unit")
class PackageCyclesTest {

  private static final Pattern PACKAGE = Pattern.compile("(?m)^package\\s+([\\w.]+);");

  /**
   * A class of this project named by package: in an import, a static import or qualified in code.
   */
  private static final Pattern REFERENCE =
      Pattern.compile("\\b(dev\\.sandboxes\\.operator(?:\\.[a-z]\\w*)*)\\.[A-Z]");

  private static final Pattern COMMENTS = Pattern.compile("(?s)/\\*.*?\\*/|//[^\\n]*");

  @Test
  void mainPackagesHaveNoCycles() {
    Map<String, Set<String>> graph =
        dependencies(ProjectPaths.root().resolve("operator/src/main/java"));
    assertThat(graph).as("packages found").containsKey("dev.sandboxes.operator.codeexecution");
    assertThat(cycles(graph))
        .as("groups of packages that depend on each other (with the imports that close the loop)")
        .isEmpty();
  }

  @Test
  void findsACycleAndNamesItsPackages() {
    Map<String, Set<String>> graph = new TreeMap<>();
    graph.put("a", Set.of("b"));
    graph.put("b", Set.of("c"));
    graph.put("c", Set.of("a", "d"));
    graph.put("d", Set.of());
    assertThat(cycles(graph)).containsExactly("[a, b, c]: a -> b, b -> c, c -> a");
    graph.put("c", Set.of("d"));
    assertThat(cycles(graph)).isEmpty();
  }

  @Test
  void readsImportsStaticImportsAndQualifiedNamesButNotComments() {
    String source =
        """
        package dev.sandboxes.operator.a;
        import dev.sandboxes.operator.b.B;
        import static dev.sandboxes.operator.c.C.helper;
        // dev.sandboxes.operator.d.D is only mentioned here
        /** And {@link dev.sandboxes.operator.e.E} here. */
        class A { dev.sandboxes.operator.f.F f; java.util.List<String> l; }
        """;
    assertThat(references(source))
        .containsExactlyInAnyOrder(
            "dev.sandboxes.operator.b", "dev.sandboxes.operator.c", "dev.sandboxes.operator.f");
  }

  /** Package → the other packages of this project its classes refer to. */
  static Map<String, Set<String>> dependencies(Path sources) {
    Map<String, Set<String>> graph = new TreeMap<>();
    try (Stream<Path> files = Files.walk(sources)) {
      for (Path file : files.filter(f -> f.toString().endsWith(".java")).toList()) {
        String source = Files.readString(file);
        Matcher declared = PACKAGE.matcher(source);
        if (!declared.find()) {
          continue;
        }
        String pkg = declared.group(1);
        Set<String> targets = graph.computeIfAbsent(pkg, k -> new TreeSet<>());
        references(source).stream().filter(target -> !target.equals(pkg)).forEach(targets::add);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    // Keep only edges to packages that exist (a qualified name can end in a nested class).
    graph.values().forEach(targets -> targets.removeIf(target -> !graph.containsKey(target)));
    return graph;
  }

  static Set<String> references(String source) {
    Set<String> packages = new TreeSet<>();
    Matcher matcher = REFERENCE.matcher(COMMENTS.matcher(source).replaceAll(" "));
    while (matcher.find()) {
      packages.add(matcher.group(1));
    }
    return packages;
  }

  /**
   * The strongly connected groups of more than one package (Tarjan), each as its sorted members and
   * the edges inside it.
   */
  static List<String> cycles(Map<String, Set<String>> graph) {
    Tarjan tarjan = new Tarjan(graph);
    graph.keySet().forEach(tarjan::visit);
    List<String> found = new ArrayList<>();
    for (Set<String> group : tarjan.groups) {
      if (group.size() < 2) {
        continue;
      }
      List<String> edges = new ArrayList<>();
      for (String from : group) {
        for (String to : graph.getOrDefault(from, Set.of())) {
          if (group.contains(to)) {
            edges.add(from + " -> " + to);
          }
        }
      }
      found.add(group + ": " + String.join(", ", edges));
    }
    return found;
  }

  private static final class Tarjan {
    final Map<String, Set<String>> graph;
    final Map<String, Integer> index = new HashMap<>();
    final Map<String, Integer> low = new HashMap<>();
    final Deque<String> stack = new ArrayDeque<>();
    final Set<String> onStack = new TreeSet<>();
    final List<Set<String>> groups = new ArrayList<>();

    Tarjan(Map<String, Set<String>> graph) {
      this.graph = graph;
    }

    void visit(String node) {
      if (index.containsKey(node)) {
        return;
      }
      index.put(node, index.size());
      low.put(node, index.get(node));
      stack.push(node);
      onStack.add(node);
      for (String next : graph.getOrDefault(node, Set.of())) {
        if (!index.containsKey(next)) {
          visit(next);
          low.put(node, Math.min(low.get(node), low.get(next)));
        } else if (onStack.contains(next)) {
          low.put(node, Math.min(low.get(node), index.get(next)));
        }
      }
      if (low.get(node).equals(index.get(node))) {
        Set<String> group = new TreeSet<>();
        String member;
        do {
          member = stack.pop();
          onStack.remove(member);
          group.add(member);
        } while (!member.equals(node));
        groups.add(group);
      }
    }
  }
}
