package dev.sandboxes.api;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceColumnDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaProps;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The committed CRD files (crds/*.yaml and the chart's copies) must equal what the crd-generator
 * produces from the model, with printer columns in the order the annotations declare them (the
 * generator sorts them by name). Run with -Dcrds.update=true, or hack/update-crds, to rewrite them.
 */
class CrdFilesTest {

  static final String HEADER =
      "# GENERATED from crds/src/main/java by the fabric8 crd-generator: do not edit.\n"
          + "# Regenerate with hack/update-crds.\n";

  @ParameterizedTest
  @ValueSource(strings = {"sandboxproviders", "codeexecutions"})
  void committedCrdMatchesTheModel(String plural) throws IOException {
    String expected = render(plural);
    Path root = Path.of(System.getProperty("project.root", ".."));
    List<Path> copies =
        List.of(
            root.resolve("crds").resolve(plural + ".sandboxes.dev.yaml"),
            root.resolve("helm/sandbox-operator/crds").resolve(plural + ".sandboxes.dev.yaml"));
    for (Path copy : copies) {
      if (Boolean.getBoolean("crds.update")) {
        Files.createDirectories(copy.getParent());
        Files.writeString(copy, expected);
      }
      assertThat(copy).as("%s exists (run hack/update-crds)", copy).exists();
      assertThat(Files.readString(copy))
          .as("%s is stale: run hack/update-crds and commit the result", copy)
          .isEqualTo(expected);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"sandboxproviders", "codeexecutions"})
  void everyFieldIsDescribed(String plural) throws IOException {
    JSONSchemaProps root =
        generated(plural).getSpec().getVersions().get(0).getSchema().getOpenAPIV3Schema();
    List<String> undocumented = new ArrayList<>();
    collectUndocumented("spec", root.getProperties().get("spec"), undocumented);
    collectUndocumented("status", root.getProperties().get("status"), undocumented);
    assertThat(undocumented).isEmpty();
  }

  private static void collectUndocumented(
      String path, JSONSchemaProps schema, List<String> undocumented) {
    if (schema.getProperties() == null) {
      return;
    }
    for (Map.Entry<String, JSONSchemaProps> field : schema.getProperties().entrySet()) {
      String fieldPath = path + "." + field.getKey();
      JSONSchemaProps props = field.getValue();
      // Fields of Kubernetes' own types (Condition, Toleration) carry upstream documentation.
      boolean kubernetesType = path.contains("conditions") || path.contains("tolerations");
      if (!kubernetesType && (props.getDescription() == null || props.getDescription().isBlank())) {
        undocumented.add(fieldPath);
      }
      collectUndocumented(fieldPath, props, undocumented);
      if (props.getItems() != null && props.getItems().getSchema() != null) {
        collectUndocumented(fieldPath + "[]", props.getItems().getSchema(), undocumented);
      }
    }
  }

  /** The generated CRD with printer columns in declaration order, as committed. */
  static String render(String plural) throws IOException {
    CustomResourceDefinition crd = generated(plural);
    Class<?> type = plural.equals("codeexecutions") ? CodeExecution.class : SandboxProvider.class;
    List<String> order =
        Arrays.stream(type.getAnnotationsByType(AdditionalPrinterColumn.class))
            .map(AdditionalPrinterColumn::name)
            .toList();
    for (var version : crd.getSpec().getVersions()) {
      List<CustomResourceColumnDefinition> columns =
          new ArrayList<>(version.getAdditionalPrinterColumns());
      columns.sort(Comparator.comparingInt(c -> order.indexOf(c.getName())));
      version.setAdditionalPrinterColumns(columns);
    }
    return HEADER + Serialization.asYaml(crd).replaceFirst("^---\n", "");
  }

  private static CustomResourceDefinition generated(String plural) throws IOException {
    String resource = "/META-INF/fabric8/" + plural + ".sandboxes.dev-v1.yml";
    try (InputStream in = CrdFilesTest.class.getResourceAsStream(resource)) {
      assertThat(in).as("generated %s (mvn process-classes)", resource).isNotNull();
      return Serialization.unmarshal(
          new String(in.readAllBytes(), StandardCharsets.UTF_8), CustomResourceDefinition.class);
    }
  }
}
