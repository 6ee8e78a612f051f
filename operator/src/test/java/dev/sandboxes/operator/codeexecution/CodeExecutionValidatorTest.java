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
import dev.sandboxes.operator.sandboxprovider.ProviderSettings;
import dev.sandboxes.operator.testing.TestResources;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

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
    assertThat(CodeExecutionValidator.validate(spec))
        .anyMatch(p -> p.startsWith("spec.language is required"))
        .anyMatch(p -> p.contains("exactly one of spec.code and spec.codeFrom"))
        .anyMatch(p -> p.startsWith("spec.entrypoint"))
        .anyMatch(p -> p.startsWith("spec.timeoutSeconds"))
        .anyMatch(p -> p.startsWith("spec.ttlSecondsAfterFinished"));
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
    assertThat(CodeExecutionValidator.validate(spec)).singleElement().asString().contains("spec.arguments");
  }

  @Test
  void timeoutAboveTheProviderMaximumIsRejectedWithTheAliyunReason() {
    CodeExecutionSpec spec = spec();
    spec.setTimeoutSeconds(60);
    SandboxProvider provider = TestResources.aDockerProvider("ns", "cloud");
    provider.getSpec().setType(ProviderType.ALIYUN);
    List<String> problems =
        CodeExecutionValidator.validateAgainst(spec, ProviderSettings.of(provider, OperatorConfig.defaults()), "x");
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
    List<String> problems = CodeExecutionValidator.validateAgainst(
        spec(), ProviderSettings.of(provider, OperatorConfig.defaults()), "é".repeat(6));
    assertThat(problems).hasSize(2);
    assertThat(problems.get(0)).contains("python is not served");
    assertThat(problems.get(1)).contains("12 bytes").contains("maxCodeBytes");
  }

  private static CodeExecutionSpec spec() {
    return TestResources.anExecution("ns", "x", "p").getSpec();
  }
}
