package dev.sandboxes.operator.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Every test class names its tier with a JUnit tag, so one tier runs alone (`mvn test
 * -Dgroups=unit`): `e2e` for *E2E (real cluster), `mock` for *MockTest (fabric8's mock server),
 * `engine` for *EngineTest and any other test that needs the podman engines (a class can be both),
 * `unit` for the rest.
 */
@Tag("unit")
class TestTiersTest {

  private static final Path TESTS = Path.of("src/test/java");
  private static final Pattern TAG = Pattern.compile("^@Tag\\(\"(\\w+)\"\\)", Pattern.MULTILINE);
  private static final Pattern TEST_METHOD =
      Pattern.compile("@(Test|ParameterizedTest|RepeatedTest)\\b");
  private static final Pattern NEEDS_ENGINE =
      Pattern.compile("DockerEngines\\.|SANDBOX_DOCKER_HOST");
  private static final Pattern NEEDS_MOCK_SERVER =
      Pattern.compile("EnableKubernetesMockClient|KubernetesMockServer");

  @Test
  void everyTestClassCarriesTheTagsOfItsTier() throws IOException {
    List<String> wrong = new ArrayList<>();
    int classes = 0;
    try (Stream<Path> files = Files.walk(TESTS)) {
      for (Path file : files.filter(f -> f.toString().endsWith(".java")).toList()) {
        String source = Files.readString(file);
        if (!TEST_METHOD.matcher(source).find()) {
          continue;
        }
        String name = file.getFileName().toString().replace(".java", "");
        if (name.equals(TestTiersTest.class.getSimpleName())) {
          continue; // its own examples name the mock server and the engines
        }
        classes++;
        Set<String> expected = expectedTiers(name, source);
        Set<String> actual = new TreeSet<>();
        Matcher tag = TAG.matcher(source);
        while (tag.find()) {
          actual.add(tag.group(1));
        }
        if (!actual.equals(expected)) {
          wrong.add(name + " is tagged " + actual + ", its tier is " + expected);
        }
      }
    }
    assertThat(classes).as("test classes found under " + TESTS.toAbsolutePath()).isGreaterThan(50);
    assertThat(wrong).isEmpty();
  }

  /** `mock` and `engine` by name or by what the class reaches; `unit` when neither. */
  static Set<String> expectedTiers(String name, String source) {
    Set<String> tiers = new TreeSet<>();
    if (name.endsWith("E2E")) {
      tiers.add("e2e");
      return tiers;
    }
    if (name.endsWith("MockTest") || NEEDS_MOCK_SERVER.matcher(source).find()) {
      tiers.add("mock");
    }
    if (name.endsWith("EngineTest") || NEEDS_ENGINE.matcher(source).find()) {
      tiers.add("engine");
    }
    if (tiers.isEmpty()) {
      tiers.add("unit");
    }
    return tiers;
  }

  @Test
  void aMockServerOrAnEngineIsNeverInTheUnitTier() {
    assertThat(expectedTiers("SomethingTest", "@EnableKubernetesMockClient class SomethingTest {}"))
        .containsExactly("mock");
    assertThat(expectedTiers("SomethingTest", "String host = DockerEngines.host(runtime);"))
        .containsExactly("engine");
    assertThat(expectedTiers("SomethingMockTest", "DockerEngines.host(runtime)"))
        .containsExactly("engine", "mock");
    assertThat(expectedTiers("SomethingTest", "class SomethingTest {}")).containsExactly("unit");
    assertThat(expectedTiers("SomethingE2E", "DockerEngines.host(runtime)")).containsExactly("e2e");
  }
}
