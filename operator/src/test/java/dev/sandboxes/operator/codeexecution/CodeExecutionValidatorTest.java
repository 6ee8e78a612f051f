package dev.sandboxes.operator.codeexecution;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sandboxes.api.v1alpha1.CodeExecutionSpec;
import dev.sandboxes.api.v1alpha1.ExecutionLimits;
import dev.sandboxes.api.v1alpha1.ExecutionMode;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.api.v1alpha1.RuntimeSpec;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.operator.config.OperatorConfig;
import dev.sandboxes.operator.provider.ProviderSettings;
import dev.sandboxes.operator.testing.TestResources;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
@SuppressWarnings("unchecked")
class CodeExecutionValidatorTest {

  @Test
  void aValidSpecHasNoProblems() {
    assertThat(CodeExecutionValidator.validate(spec())).isEmpty();
  }

  @Test
  void eachProblemNamesItsField() {
    CodeExecutionSpec spec = new CodeExecutionSpec();
    spec.setEntrypoint("1bad");
    spec.setTimeoutSeconds(0);
    spec.setTtlSecondsAfterFinished(-1);
    spec.setAdmissionTimeoutSeconds(0);
    assertThat(CodeExecutionValidator.validate(spec))
        .anyMatch(
            p -> p.equals("spec.admissionTimeoutSeconds must be between 1 and 86400 (default 300)"))
        .anyMatch(p -> p.startsWith("spec.language is required"))
        .anyMatch(p -> p.contains("exactly one of spec.code and spec.codeFrom"))
        .anyMatch(p -> p.startsWith("spec.entrypoint"))
        .anyMatch(p -> p.startsWith("spec.timeoutSeconds"))
        .anyMatch(p -> p.startsWith("spec.ttlSecondsAfterFinished"));
  }

  @Test
  void anAdmissionTimeoutAboveADayIsRejected() {
    CodeExecutionSpec spec = spec();
    spec.setAdmissionTimeoutSeconds(86401);
    assertThat(CodeExecutionValidator.validate(spec))
        .containsExactly("spec.admissionTimeoutSeconds must be between 1 and 86400 (default 300)");
    spec.setAdmissionTimeoutSeconds(86400);
    assertThat(CodeExecutionValidator.validate(spec)).isEmpty();
  }

  @Test
  void scriptModeTakesNoEntrypointOrArguments() {
    CodeExecutionSpec spec = spec();
    spec.setMode(ExecutionMode.SCRIPT);
    spec.setEntrypoint("main");
    assertThat(CodeExecutionValidator.validate(spec)).hasSize(2);
  }

  @Test
  void argumentsAreCapped() {
    CodeExecutionSpec spec = spec();
    spec.setArguments(Map.of("blob", "x".repeat(CodeExecutionValidator.MAX_ARGUMENTS_BYTES)));
    assertThat(CodeExecutionValidator.validate(spec))
        .singleElement()
        .asString()
        .contains("spec.arguments");
  }

  @Test
  void argumentsNestedTooDeeplyAreRejectedNamingTheDepth() {
    CodeExecutionSpec spec = spec();
    Object deep = 1;
    for (int i = 0; i < CodeExecutionValidator.MAX_ARGUMENTS_DEPTH; i++) {
      deep = Map.of("a", deep);
    }
    spec.setArguments(Map.of("root", deep)); // one level more than allowed
    assertThat(CodeExecutionValidator.validate(spec))
        .singleElement()
        .asString()
        .startsWith(
            "spec.arguments nests "
                + (CodeExecutionValidator.MAX_ARGUMENTS_DEPTH + 1)
                + " levels deep")
        .contains("at most " + CodeExecutionValidator.MAX_ARGUMENTS_DEPTH);

    spec.setArguments((Map<String, Object>) deep); // exactly the limit; lists count as levels too
    assertThat(CodeExecutionValidator.validate(spec)).isEmpty();
    spec.setArguments(Map.of("list", List.of(List.of(deep))));
    assertThat(CodeExecutionValidator.validate(spec))
        .singleElement()
        .asString()
        .contains("nests 67 levels");
    java.util.Map<String, Object> withNull = new java.util.HashMap<>();
    withNull.put("nothing", null);
    withNull.put("list", java.util.Arrays.asList(1, null));
    spec.setArguments(withNull);
    assertThat(CodeExecutionValidator.validate(spec)).isEmpty();
  }

  @Test
  void sizeLimitsOfEveryUnboundedFieldNameTheField() {
    CodeExecutionSpec spec = spec();
    spec.setCode("x".repeat(CodeExecutionValidator.MAX_CODE_BYTES) + "é");
    spec.setTimeoutSeconds(86401);
    spec.setTtlSecondsAfterFinished(31536001);
    spec.getProviderRef().setName("p".repeat(254));
    dev.sandboxes.api.v1alpha1.ArgumentsSource from =
        new dev.sandboxes.api.v1alpha1.ArgumentsSource();
    dev.sandboxes.api.v1alpha1.SecretKeyReference key =
        new dev.sandboxes.api.v1alpha1.SecretKeyReference();
    key.setName("s");
    key.setKey("k".repeat(300));
    from.setSecretKeyRef(key);
    spec.setArgumentsFrom(from);
    assertThat(CodeExecutionValidator.validate(spec))
        .anyMatch(p -> p.startsWith("spec.code is 262146 bytes; at most 262144"))
        .anyMatch(p -> p.equals("spec.timeoutSeconds must be at most 86400"))
        .anyMatch(p -> p.startsWith("spec.ttlSecondsAfterFinished must be at most 31536000"))
        .anyMatch(p -> p.startsWith("spec.providerRef.name is 254 characters long; at most 253"))
        .anyMatch(p -> p.startsWith("spec.argumentsFrom.secretKeyRef.key is 300 characters long"))
        .hasSize(5);
  }

  @Test
  void timeoutAboveTheProviderMaximumIsRejectedWithTheAliyunReason() {
    CodeExecutionSpec spec = spec();
    spec.setTimeoutSeconds(60);
    SandboxProvider provider = TestResources.aDockerProvider("ns", "cloud");
    provider.getSpec().setType(ProviderType.ALIYUN);
    List<String> problems =
        CodeExecutionValidator.validateAgainst(
            spec, ProviderSettings.of(provider, OperatorConfig.defaults()), "x");
    assertThat(problems).singleElement().asString().contains("at most 30").contains("AgentRun");
  }

  @Test
  void codeOverTheProviderLimitAndUnservedLanguagesAreRejected() {
    SandboxProvider provider = TestResources.aDockerProvider("ns", "p");
    ExecutionLimits limits = new ExecutionLimits();
    limits.setMaxCodeBytes(10);
    provider.getSpec().setLimits(limits);
    RuntimeSpec js = new RuntimeSpec();
    js.setLanguage(Language.JAVASCRIPT);
    provider.getSpec().setRuntimes(List.of(js));
    List<String> problems =
        CodeExecutionValidator.validateAgainst(
            spec(), ProviderSettings.of(provider, OperatorConfig.defaults()), "é".repeat(6));
    assertThat(problems).hasSize(2);
    assertThat(problems.get(0)).contains("python is not served");
    assertThat(problems.get(1)).contains("12 bytes").contains("maxCodeBytes");
  }

  // ---- issue 18: spec.argumentsJSON and argumentsFrom.configMapKeyRef ----

  @Test
  void argumentsJsonHoldingAnObjectWithNullsIsValid() {
    CodeExecutionSpec spec = spec();
    spec.setArguments(null);
    spec.setArgumentsJSON("{\"a\": true, \"nothing\": null, \"list\": [null]}");
    assertThat(CodeExecutionValidator.validate(spec)).isEmpty();
  }

  @Test
  void argumentsJsonThatIsNotOneJsonObjectGetsAClearError() {
    for (String[] bad :
        new String[][] {
          {"{\"a\": ", "is not valid JSON (line 1"},
          {"[1, 2]", "not an array"},
          {"\"text\"", "not a string"},
          {"null", "not null"},
          {"{\"a\": 1} {\"b\": 2}", "not valid JSON"},
          {"{\"a\": 1, \"a\": 2}", "a key appears twice"},
          {"", "is empty"}
        }) {
      CodeExecutionSpec spec = spec();
      spec.setArguments(null);
      spec.setArgumentsJSON(bad[0]);
      assertThat(CodeExecutionValidator.validate(spec))
          .as(bad[0])
          .singleElement()
          .satisfies(
              problem ->
                  assertThat(problem)
                      .startsWith("spec.argumentsJSON ")
                      .contains("must hold a JSON object")
                      .contains(bad[1]));
    }
  }

  @Test
  void argumentsAndArgumentsJsonTogetherAreRefused() {
    CodeExecutionSpec spec = spec();
    spec.setArguments(Map.of("a", 1));
    spec.setArgumentsJSON("{\"a\": 1}");
    assertThat(CodeExecutionValidator.validate(spec))
        .anyMatch(p -> p.startsWith("set at most one of spec.arguments and spec.argumentsJSON"));
  }

  @Test
  void argumentsJsonInScriptModeIsRefusedUnlessEmpty() {
    CodeExecutionSpec spec = spec();
    spec.setArguments(null);
    spec.setMode(ExecutionMode.SCRIPT);
    spec.setEntrypoint(null);
    spec.setArgumentsJSON("{}");
    assertThat(CodeExecutionValidator.validate(spec)).isEmpty();
    spec.setArgumentsJSON("{\"a\": null}");
    assertThat(CodeExecutionValidator.validate(spec))
        .anyMatch(p -> p.startsWith("spec.argumentsJSON holds arguments"));
  }

  @Test
  void argumentsFromNeedsExactlyOneReference() {
    CodeExecutionSpec spec = spec();
    spec.setArgumentsFrom(new dev.sandboxes.api.v1alpha1.ArgumentsSource());
    assertThat(CodeExecutionValidator.validate(spec))
        .contains("spec.argumentsFrom needs exactly one of configMapKeyRef and secretKeyRef");
    dev.sandboxes.api.v1alpha1.ConfigMapKeyReference ref =
        new dev.sandboxes.api.v1alpha1.ConfigMapKeyReference();
    ref.setName("args");
    spec.getArgumentsFrom().setConfigMapKeyRef(ref);
    assertThat(CodeExecutionValidator.validate(spec))
        .contains("spec.argumentsFrom.configMapKeyRef needs name and key");
    ref.setKey("args.json");
    assertThat(CodeExecutionValidator.validate(spec)).isEmpty();
  }

  private static CodeExecutionSpec spec() {
    return TestResources.anExecution("ns", "x", "p").getSpec();
  }
}
