package dev.sandboxes.operator.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionReason;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.DockerSpec;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.Phase;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.api.v1alpha1.SandboxProviderSpec;
import dev.sandboxes.operator.SandboxOperator;
import dev.sandboxes.operator.testing.DockerEngines;
import dev.sandboxes.operator.testing.TestResources;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The CodeExecution lifecycle against a real API server: an in-process operator, a Docker provider
 * on the podman runc engine (the Docker-API path; the SelfManaged pod path has its own E2E),
 * merge-patched status through the real status subresource, events.k8s.io events.
 */
@Tag("e2e")
class CodeExecutionLifecycleE2E {

  private static final String PROVIDER = "podman-runc";
  private static E2eCluster cluster;
  private static SandboxOperator operator;

  @BeforeAll
  static void start() {
    String host = DockerEngines.host("runc");
    cluster = E2eCluster.open("lifecycle");
    operator = cluster.startOperator();
    cluster.create(dockerProvider(PROVIDER, host));
    cluster.awaitReady(PROVIDER);
  }

  @AfterAll
  static void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  static SandboxProvider dockerProvider(String name, String host) {
    SandboxProvider provider = new SandboxProvider();
    provider.setMetadata(new ObjectMetaBuilder().withName(name).build());
    SandboxProviderSpec spec = new SandboxProviderSpec();
    spec.setType(ProviderType.DOCKER);
    DockerSpec docker = new DockerSpec();
    docker.setHost(host);
    docker.setRuntime("runc");
    docker.setPoolSize(2);
    spec.setDocker(docker);
    provider.setSpec(spec);
    return TestResources.asDefault(provider);
  }

  private static CodeExecution execution(
      String name, Language language, String code, Map<String, Object> arguments) {
    CodeExecution cx = TestResources.anExecution(cluster.namespace(), name, null);
    cx.getSpec().setLanguage(language);
    cx.getSpec().setCode(code);
    cx.getSpec().setArguments(arguments);
    return cx;
  }

  @Test
  void aPythonFunctionSucceedsWithItsResultOutputConditionsAndEvents() {
    cluster.create(
        execution(
            "py-ok",
            Language.PYTHON,
            "def main(name, flag, nothing):\n    print('hi', name)\n    return {'n': name, 'f': flag, 'z': nothing}\n",
            Map.of("name", "Wörld", "flag", true, "nothing", Map.of())));

    CodeExecution cx = cluster.awaitTerminal("py-ok");
    assertThat(cx.getStatus().getPhase())
        .as(cx.getStatus().getMessage())
        .isEqualTo(Phase.SUCCEEDED);
    assertThat(cx.getStatus().getExitCode()).isZero();
    assertThat(cx.getStatus().getStdout()).isEqualTo("hi Wörld\n");
    assertThat(cx.getStatus().getResult().get("n").asText()).isEqualTo("Wörld");
    assertThat(cx.getStatus().getResult().get("f").isBoolean()).isTrue();
    assertThat(cx.getStatus().getResult().get("z").isObject()).isTrue();
    assertThat(cx.getStatus().getSandbox().getProvider()).isEqualTo(PROVIDER);
    assertThat(cx.getStatus().getSandbox().getType()).isEqualTo(ProviderType.DOCKER);
    assertThat(cx.getStatus().getSandbox().getId()).isNotBlank();
    assertThat(cx.getStatus().getObservedGeneration()).isEqualTo(1L);
    assertThat(cx.getStatus().getStartTime()).isNotNull();
    assertThat(cx.getStatus().getDurationMillis()).isNotNull().isPositive();
    assertThat(Conditions.isTrue(cx.getStatus().getConditions(), ConditionTypes.ACCEPTED)).isTrue();
    assertThat(Conditions.isTrue(cx.getStatus().getConditions(), ConditionTypes.STARTED)).isTrue();
    assertThat(Conditions.reason(cx.getStatus().getConditions(), ConditionTypes.SUCCEEDED))
        .isEqualTo(CodeExecutionReason.COMPLETED.value());
    cluster.awaitEvent("CodeExecution", "py-ok", "Started");
    cluster.awaitEvent("CodeExecution", "py-ok", "Completed");
    // No user code or arguments in events: they are readable by anyone who can list events.
    assertThat(cluster.eventsAbout("CodeExecution", "py-ok"))
        .allSatisfy(e -> assertThat(e.getNote()).doesNotContain("Wörld").doesNotContain("print("));
  }

  @Test
  void anAsyncJavaScriptMainIsAwaited() {
    cluster.create(
        execution(
            "js-ok",
            Language.JAVASCRIPT,
            "async function main(args) {\n  await new Promise(r => setTimeout(r, 50));\n  return args.x * 2;\n}\n"
                + "module.exports = { main };\n",
            Map.of("x", 21)));
    CodeExecution cx = cluster.awaitTerminal("js-ok");
    assertThat(cx.getStatus().getPhase())
        .as(cx.getStatus().getMessage())
        .isEqualTo(Phase.SUCCEEDED);
    assertThat(cx.getStatus().getResult().asInt()).isEqualTo(42);
  }

  @Test
  void failingCodeIsAUserCodeErrorWithTheTraceback() {
    cluster.create(execution("py-error", Language.PYTHON, "def main():\n    return 1 / 0\n", null));
    CodeExecution cx = cluster.awaitTerminal("py-error");
    assertThat(cx.getStatus().getPhase()).isEqualTo(Phase.FAILED);
    assertThat(cx.getStatus().getExitCode()).isEqualTo(1);
    assertThat(Conditions.reason(cx.getStatus().getConditions(), ConditionTypes.SUCCEEDED))
        .isEqualTo(CodeExecutionReason.USER_CODE_ERROR.value());
    assertThat(cx.getStatus().getStderr()).contains("ZeroDivisionError");
    cluster.awaitEvent("CodeExecution", "py-error", "UserCodeError");
  }

  @Test
  void aTimeoutEndsTheRun() {
    CodeExecution timeout =
        execution("py-timeout", Language.PYTHON, "while True:\n    pass\n", null);
    timeout.getSpec().setMode(dev.sandboxes.api.v1alpha1.ExecutionMode.SCRIPT);
    timeout.getSpec().setTimeoutSeconds(2);
    cluster.create(timeout);
    CodeExecution cx = cluster.awaitTerminal("py-timeout");
    assertThat(Conditions.reason(cx.getStatus().getConditions(), ConditionTypes.SUCCEEDED))
        .isEqualTo(CodeExecutionReason.TIMED_OUT.value());
    assertThat(cx.getStatus().getDurationMillis()).isBetween(2_000L, 10_000L);
  }

  @Test
  void aMissingProviderIsReportedAndTheExecutionWaits() {
    CodeExecution cx =
        TestResources.anExecution(cluster.namespace(), "no-provider", "does-not-exist");
    cluster.create(cx);
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () -> {
              CodeExecution current = cluster.execution("no-provider");
              return current.getStatus() != null
                  && CodeExecutionReason.PROVIDER_NOT_FOUND
                      .value()
                      .equals(
                          Conditions.reason(
                              current.getStatus().getConditions(), ConditionTypes.ACCEPTED));
            });
    assertThat(cluster.execution("no-provider").getStatus().getPhase()).isEqualTo(Phase.PENDING);
    cluster.awaitEvent("CodeExecution", "no-provider", "ProviderNotFound");
  }

  @Test
  void aSpecChangeAfterCreationIsIgnoredAndSaidSo() {
    CodeExecution slow =
        execution(
            "spec-change",
            Language.PYTHON,
            "import time\ndef main():\n    time.sleep(2)\n    return 'original'\n",
            null);
    cluster.create(slow);
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () -> {
              CodeExecution current = cluster.execution("spec-change");
              return current.getStatus() != null && current.getStatus().getStartTime() != null;
            });
    cluster
        .client()
        .resources(CodeExecution.class)
        .inNamespace(cluster.namespace())
        .withName("spec-change")
        .edit(
            cx -> {
              cx.getSpec().setCode("def main():\n    return 'changed'\n");
              return cx;
            });
    CodeExecution cx = cluster.awaitTerminal("spec-change");
    assertThat(cx.getStatus().getResult().asText()).isEqualTo("original");
    cluster.awaitEvent("CodeExecution", "spec-change", "SpecChangeIgnored");
  }

  @Test
  void ttlDeletesAFinishedExecution() {
    CodeExecution cx = execution("ttl", Language.PYTHON, "def main():\n    return 1\n", null);
    cx.getSpec().setTtlSecondsAfterFinished(1);
    cluster.create(cx);
    await().atMost(Duration.ofSeconds(60)).until(() -> cluster.execution("ttl") == null);
  }
}
