package dev.sandboxes.operator.codeexecution;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sandboxes.api.v1alpha1.ArgumentsSource;
import dev.sandboxes.api.v1alpha1.CodeExecutionSpec;
import dev.sandboxes.api.v1alpha1.CodeSource;
import dev.sandboxes.api.v1alpha1.ConfigMapKeyReference;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.SecretKeyReference;
import dev.sandboxes.operator.provider.ReferencedObjects;
import dev.sandboxes.operator.testing.FakeReferencedObjects;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Resolving codeFrom and argumentsFrom: only Secrets that opted in are read for an execution. */
@Tag("unit")
class ExecutionInputsTest {

  private final FakeReferencedObjects objects = new FakeReferencedObjects();

  /** Secrets by name, each labelled or not; ConfigMaps by name. */
  private final Map<String, ReferencedObjects.ExecutionSecret> secrets = objects.executionSecrets();

  private final Map<String, Map<String, String>> configMaps = objects.configMaps();

  /** ConfigMaps read for arguments, each labelled or not. */
  private final Map<String, ReferencedObjects.ExecutionSecret> argumentConfigMaps =
      objects.executionConfigMaps();

  @Test
  void codeFromASecretThatDidNotOptInIsRefusedNamingTheFieldAndTheLabel() {
    secrets.put("registry-credentials", new ReferencedObjects.ExecutionSecret(false, Map.of()));
    ExecutionInputs.Resolution resolution =
        ExecutionInputs.resolve("ns", codeFromSecret("registry-credentials", "main.py"), objects);

    assertThat(resolution).isInstanceOf(ExecutionInputs.NotAllowed.class);
    assertThat(((ExecutionInputs.NotAllowed) resolution).message())
        .contains("Secret registry-credentials")
        .contains("spec.codeFrom.secretKeyRef")
        .contains("sandboxes.dev/execution-input: \"true\"");
  }

  @Test
  void argumentsFromASecretThatDidNotOptInIsRefusedBeforeItsKeysAreLookedAt() {
    secrets.put("db", new ReferencedObjects.ExecutionSecret(false, Map.of()));
    CodeExecutionSpec spec = inline();
    spec.setArgumentsFrom(argumentsFrom("db", "no-such-key"));

    ExecutionInputs.Resolution resolution = ExecutionInputs.resolve("ns", spec, objects);

    // Refused, not "has no key": the execution learns nothing about the Secret's keys.
    assertThat(resolution).isInstanceOf(ExecutionInputs.NotAllowed.class);
    assertThat(((ExecutionInputs.NotAllowed) resolution).message())
        .contains("Secret db")
        .contains("spec.argumentsFrom.secretKeyRef")
        .contains("sandboxes.dev/execution-input")
        .doesNotContain("no-such-key");
  }

  @Test
  void aMissingSecretStillWaits() {
    assertThat(ExecutionInputs.resolve("ns", codeFromSecret("later", "k"), objects))
        .isInstanceOf(ExecutionInputs.Missing.class);
  }

  @Test
  void aSecretThatOptedInIsReadAndItsCodeIsMarkedToHideItsSource() {
    secrets.put(
        "code",
        new ReferencedObjects.ExecutionSecret(
            true, Map.of("main.py", "def main(a, b):\n    return a + b\n")));
    secrets.put(
        "args", new ReferencedObjects.ExecutionSecret(true, Map.of("args.json", "{\"b\": 2}")));
    CodeExecutionSpec spec = codeFromSecret("code", "main.py");
    Map<String, Object> arguments = new java.util.LinkedHashMap<>(); // Map.of has no fixed order
    arguments.put("a", 1);
    arguments.put("b", 0);
    spec.setArguments(arguments);
    spec.setArgumentsFrom(argumentsFrom("args", "args.json"));

    ExecutionInputs inputs =
        ((ExecutionInputs.Resolved) ExecutionInputs.resolve("ns", spec, objects)).inputs();

    assertThat(inputs.code()).startsWith("def main(a, b)");
    // Compared as JSON objects: key order is not part of the meaning (Map.of has none).
    assertThat(inputs.arguments())
        .isEqualTo(
            new com.fasterxml.jackson.databind.ObjectMapper()
                .createObjectNode()
                .put("a", 1)
                .put("b", 2));
    assertThat(inputs.codeFromSecret()).isTrue();
  }

  @Test
  void inlineAndConfigMapCodeKeepTheirTracebacks() {
    assertThat(
            ((ExecutionInputs.Resolved) ExecutionInputs.resolve("ns", inline(), objects))
                .inputs()
                .codeFromSecret())
        .isFalse();
    configMaps.put("cm", Map.of("main.py", "def main():\n    pass\n"));
    CodeExecutionSpec spec = new CodeExecutionSpec();
    spec.setLanguage(Language.PYTHON);
    CodeSource source = new CodeSource();
    ConfigMapKeyReference ref = new ConfigMapKeyReference();
    ref.setName("cm");
    ref.setKey("main.py");
    source.setConfigMapKeyRef(ref);
    spec.setCodeFrom(source);
    assertThat(
            ((ExecutionInputs.Resolved) ExecutionInputs.resolve("ns", spec, objects))
                .inputs()
                .codeFromSecret())
        .isFalse();
  }

  // ---- issue 18: arguments as JSON text, and from ConfigMaps ----

  @Test
  void argumentsJsonIsTakenVerbatimWithItsNullsAndMergedUnderArgumentsFrom() {
    argumentConfigMaps.put(
        "args",
        new ReferencedObjects.ExecutionSecret(
            true,
            Map.of(
                "args.json",
                "{\"b\": null, \"deep\": {\"n\": null, \"list\": [null, 1.5, \"\u00e9\"]}}")));
    CodeExecutionSpec spec = inline();
    spec.setArgumentsJSON("{\"a\": true, \"b\": 1, \"nothing\": null}");
    spec.setArgumentsFrom(argumentsFromConfigMap("args", "args.json"));

    ExecutionInputs inputs =
        ((ExecutionInputs.Resolved) ExecutionInputs.resolve("ns", spec, objects)).inputs();

    assertThat(inputs.arguments().toString())
        .isEqualTo(
            "{\"a\":true,\"b\":null,\"nothing\":null,\"deep\":{\"n\":null,\"list\":[null,1.5,\"\u00e9\"]}}");
  }

  @Test
  void aConfigMapOfArgumentsThatDidNotOptInIsRefusedAsConfigMapNotAllowed() {
    argumentConfigMaps.put("settings", new ReferencedObjects.ExecutionSecret(false, Map.of()));
    CodeExecutionSpec spec = inline();
    spec.setArgumentsFrom(argumentsFromConfigMap("settings", "no-such-key"));

    ExecutionInputs.Resolution resolution = ExecutionInputs.resolve("ns", spec, objects);

    assertThat(resolution).isInstanceOf(ExecutionInputs.NotAllowed.class);
    ExecutionInputs.NotAllowed refused = (ExecutionInputs.NotAllowed) resolution;
    assertThat(refused.reason().value()).isEqualTo("ConfigMapNotAllowed");
    assertThat(refused.message())
        .contains("ConfigMap settings")
        .contains("spec.argumentsFrom.configMapKeyRef")
        .contains("sandboxes.dev/execution-input: \"true\"")
        .doesNotContain("no-such-key");
  }

  @Test
  void aConfigMapKeyThatIsNotAJsonObjectIsInvalidWithoutQuotingIt() {
    argumentConfigMaps.put(
        "args",
        new ReferencedObjects.ExecutionSecret(
            true, Map.of("list", "[\"private\"]", "broken", "{\"private\": ")));
    CodeExecutionSpec spec = inline();
    spec.setArgumentsFrom(argumentsFromConfigMap("args", "list"));
    assertThat(ExecutionInputs.resolve("ns", spec, objects))
        .isInstanceOfSatisfying(
            ExecutionInputs.Invalid.class,
            invalid ->
                assertThat(invalid.message())
                    .contains("ConfigMap args key list")
                    .contains("not an array")
                    .doesNotContain("private"));
    spec.setArgumentsFrom(argumentsFromConfigMap("args", "broken"));
    assertThat(ExecutionInputs.resolve("ns", spec, objects))
        .isInstanceOfSatisfying(
            ExecutionInputs.Invalid.class,
            invalid ->
                assertThat(invalid.message())
                    .contains("not valid JSON (line 1")
                    .doesNotContain("private"));
  }

  @Test
  void aMissingConfigMapOfArgumentsWaits() {
    CodeExecutionSpec spec = inline();
    spec.setArgumentsFrom(argumentsFromConfigMap("later", "k"));
    assertThat(ExecutionInputs.resolve("ns", spec, objects))
        .isInstanceOf(ExecutionInputs.Missing.class);
  }

  private static ArgumentsSource argumentsFromConfigMap(String name, String key) {
    ArgumentsSource source = new ArgumentsSource();
    ConfigMapKeyReference ref = new ConfigMapKeyReference();
    ref.setName(name);
    ref.setKey(key);
    source.setConfigMapKeyRef(ref);
    return source;
  }

  private static CodeExecutionSpec inline() {
    CodeExecutionSpec spec = new CodeExecutionSpec();
    spec.setLanguage(Language.PYTHON);
    spec.setCode("def main(**a):\n    return a\n");
    return spec;
  }

  private static CodeExecutionSpec codeFromSecret(String name, String key) {
    CodeExecutionSpec spec = new CodeExecutionSpec();
    spec.setLanguage(Language.PYTHON);
    CodeSource source = new CodeSource();
    source.setSecretKeyRef(secretKey(name, key));
    spec.setCodeFrom(source);
    return spec;
  }

  private static ArgumentsSource argumentsFrom(String name, String key) {
    ArgumentsSource source = new ArgumentsSource();
    source.setSecretKeyRef(secretKey(name, key));
    return source;
  }

  private static SecretKeyReference secretKey(String name, String key) {
    SecretKeyReference ref = new SecretKeyReference();
    ref.setName(name);
    ref.setKey(key);
    return ref;
  }
}
