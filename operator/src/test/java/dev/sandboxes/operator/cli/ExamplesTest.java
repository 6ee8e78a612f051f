package dev.sandboxes.operator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.operator.codeexecution.CodeExecutionValidator;
import dev.sandboxes.operator.sandboxprovider.SandboxProviderValidator;
import dev.sandboxes.operator.testing.ProjectPaths;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every manifest in examples/ parses into the API model without losing a field and passes the
 * operator's validation (the end-to-end tier applies them to a real API server).
 */
@Tag("unit")
class ExamplesTest {

  static Stream<Path> examples() throws IOException {
    try (Stream<Path> files = Files.walk(ProjectPaths.root().resolve("examples"))) {
      return files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList().stream();
    }
  }

  @ParameterizedTest
  @MethodSource("examples")
  void roundTripsAndValidates(Path file) throws IOException {
    List<Manifests.Document> documents = Manifests.read(file);
    assertThat(documents).as(file.toString()).isNotEmpty();
    for (Manifests.Document document : documents) {
      assertThat(document.kind())
          .isIn(Set.of("SandboxProvider", "CodeExecution", "ConfigMap", "Secret"));
      switch (document.kind()) {
        case "SandboxProvider" -> {
          SandboxProvider provider = Manifests.convert(document, SandboxProvider.class);
          assertRoundTrip(document, provider);
          assertThat(SandboxProviderValidator.validate(provider.getSpec()))
              .as(document.origin())
              .isEmpty();
        }
        case "CodeExecution" -> {
          CodeExecution cx = Manifests.convert(document, CodeExecution.class);
          assertRoundTrip(document, cx);
          assertThat(CodeExecutionValidator.validate(cx.getSpec())).as(document.origin()).isEmpty();
        }
        default -> {}
      }
    }
  }

  private static void assertRoundTrip(Manifests.Document document, Object model)
      throws IOException {
    // Through text on both sides, so that 268435456 read as an int equals the model's long.
    JsonNode again = Manifests.JSON.readTree(Manifests.JSON.writeValueAsString(model)).get("spec");
    JsonNode original =
        Manifests.JSON.readTree(Manifests.JSON.writeValueAsString(document.node().get("spec")));
    assertThat(again).as("%s: spec survives the model", document.origin()).isEqualTo(original);
  }
}
