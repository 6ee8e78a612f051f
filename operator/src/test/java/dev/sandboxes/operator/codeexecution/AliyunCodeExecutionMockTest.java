package dev.sandboxes.operator.codeexecution;

import static dev.sandboxes.operator.testing.TestResources.aliyunCredentials;
import static dev.sandboxes.operator.testing.TestResources.aliyunSecret;
import static dev.sandboxes.operator.testing.TestResources.anAliyunProvider;
import static dev.sandboxes.operator.testing.TestResources.anExecution;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionReason;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.Phase;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.api.v1alpha1.SandboxProviderReason;
import dev.sandboxes.operator.backend.SandboxBackendFactory;
import dev.sandboxes.operator.backend.aliyun.AgentRunTimings;
import dev.sandboxes.operator.backend.aliyun.AliyunSandboxBackend;
import dev.sandboxes.operator.testing.FakeAgentRunServer;
import dev.sandboxes.operator.testing.OperatorMockTest;
import dev.sandboxes.operator.testing.TestResources;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * CodeExecutions on an Aliyun SandboxProvider through the whole operator (fabric8 CRUD mock) with
 * the real Aliyun backend against the fake AgentRun service.
 */
@Tag("mock")
class AliyunCodeExecutionMockTest extends OperatorMockTest {

  /**
   * Short throttle backoff and polls so that scenarios finish in seconds; production's call, quota
   * and start budgets.
   */
  private static final AgentRunTimings TIMINGS =
      new AgentRunTimings(
          Duration.ofSeconds(15),
          3,
          Duration.ofMillis(50),
          Duration.ofMinutes(2),
          Duration.ofMillis(500),
          Duration.ofSeconds(2),
          Duration.ofSeconds(90),
          Duration.ofMillis(50),
          Duration.ofSeconds(10),
          300,
          Duration.ofHours(1),
          Duration.ofMinutes(10),
          64L * 1024 * 1024);

  private FakeAgentRunServer fake;

  @BeforeEach
  void startFake() {
    fake = new FakeAgentRunServer();
  }

  @AfterEach
  void stop() {
    try {
      stopOperator();
      assertThat(fake.liveSandboxes()).as("sandboxes left in AgentRun").isEmpty();
    } finally {
      fake.close();
    }
  }

  private void startOperator() {
    SandboxBackendFactory factory =
        new SandboxBackendFactory()
            .register(
                ProviderType.ALIYUN,
                context -> new AliyunSandboxBackend(context, TIMINGS, Clock.systemUTC()));
    startOperator(factory);
  }

  @Test
  void aPythonExecutionSucceedsOnAnAliyunProvider() {
    startOperator();
    client.resource(aliyunSecret("default")).create();
    client.resource(anAliyunProvider("default", "aliyun", fake)).create();
    CodeExecution cx = execution("hello");
    cx.getSpec()
        .setCode("def main(x):\n    print('computing')\n    return {'x': x, 'square': x * x}\n");
    cx.getSpec().setArguments(Map.of("x", 12));
    client.resource(cx).create();

    CodeExecution done = awaitPhase("hello", Phase.SUCCEEDED);
    assertThat(done.getStatus().getExitCode()).isZero();
    assertThat(done.getStatus().getStdout()).isEqualTo("computing\n");
    assertThat(done.getStatus().getResult().toString()).isEqualTo("{\"x\":12,\"square\":144}");
    assertThat(done.getStatus().getSandbox().getType()).isEqualTo(ProviderType.ALIYUN);
    assertThat(done.getStatus().getSandbox().getId())
        .startsWith("sbx-")
        .endsWith(done.getMetadata().getUid());
    assertThat(fake.deletedSandboxes()).containsExactly(done.getStatus().getSandbox().getId());
    SandboxProvider provider =
        client.resources(SandboxProvider.class).inNamespace("default").withName("aliyun").get();
    assertThat(Conditions.reason(provider.getStatus().getConditions(), ConditionTypes.READY))
        .isEqualTo(SandboxProviderReason.BACKEND_REACHABLE.value());
  }

  @Test
  void aTimeoutAboveThirtySecondsIsRejectedAtAdmissionWithTheReason() {
    startOperator();
    client.resource(aliyunSecret("default")).create();
    client.resource(anAliyunProvider("default", "aliyun", fake)).create();
    CodeExecution cx = anExecution("default", "too-long", "aliyun");
    cx.getSpec().setTimeoutSeconds(31);
    client.resource(cx).create();

    CodeExecution failed = awaitPhase("too-long", Phase.FAILED);
    assertThat(Conditions.reason(failed.getStatus().getConditions(), ConditionTypes.SUCCEEDED))
        .isEqualTo(CodeExecutionReason.INVALID_SPEC.value());
    assertThat(failed.getStatus().getMessage())
        .contains("spec.timeoutSeconds is 31")
        .contains("AgentRun runs code for at most 30 seconds")
        .contains("lower it to 30 or less");
    assertThat(fake.count("CreateSandbox")).isZero();
  }

  @Test
  void rejectedCredentialsKeepTheProviderNotReadyAndExecutionsWaiting() {
    startOperator();
    client
        .resource(
            new SecretBuilder()
                .withNewMetadata()
                .withNamespace("default")
                .withName(TestResources.ALIYUN_SECRET)
                .endMetadata()
                .addToStringData(
                    aliyunCredentials(FakeAgentRunServer.ACCESS_KEY_ID, "a-wrong-secret"))
                .build())
        .create();
    client.resource(anAliyunProvider("default", "aliyun", fake)).create();
    client.resource(execution("waits")).create();

    await()
        .untilAsserted(
            () -> {
              SandboxProvider provider =
                  client
                      .resources(SandboxProvider.class)
                      .inNamespace("default")
                      .withName("aliyun")
                      .get();
              assertThat(provider.getStatus()).isNotNull();
              assertThat(
                      Conditions.reason(provider.getStatus().getConditions(), ConditionTypes.READY))
                  .isEqualTo(SandboxProviderReason.CREDENTIALS_REJECTED.value());
              assertThat(provider.getStatus().getConditions().toString())
                  .doesNotContain("a-wrong-secret");
            });
    CodeExecution waiting =
        awaitReason(
            "waits", ConditionTypes.ACCEPTED, CodeExecutionReason.PROVIDER_NOT_READY.value());
    assertThat(waiting.getStatus().getPhase()).isEqualTo(Phase.PENDING);
    assertThat(fake.count("CreateSandbox")).isZero();
  }

  @Test
  void whileAgentRunThrottlesNewExecutionsWaitInPendingThenRun() {
    startOperator();
    client.resource(aliyunSecret("default")).create();
    client.resource(anAliyunProvider("default", "aliyun", fake)).create();
    await()
        .until(
            () ->
                fake.count("ListTemplates") > 0
                    && fake.templateExists(
                        dev.sandboxes.operator.backend.aliyun.AliyunSettings.DEFAULT_TEMPLATE));
    fake.throttleNext("CreateSandbox", 2, 2500);
    client.resource(execution("first")).create();
    await().until(() -> fake.count("CreateSandbox") >= 1);
    client.resource(execution("second")).create();

    CodeExecution waiting =
        awaitReason(
            "second", ConditionTypes.SUCCEEDED, CodeExecutionReason.WAITING_FOR_SANDBOX.value());
    assertThat(waiting.getStatus().getPhase()).isEqualTo(Phase.PENDING);
    awaitPhase("first", Phase.SUCCEEDED);
    awaitPhase("second", Phase.SUCCEEDED);
  }

  @Test
  void deletingARunningExecutionDeletesItsSandbox() {
    startOperator();
    client.resource(aliyunSecret("default")).create();
    client.resource(anAliyunProvider("default", "aliyun", fake)).create();
    CodeExecution cx = anExecution("default", "doomed", "aliyun");
    cx.getSpec().setCode("import time\ndef main(x):\n    time.sleep(25)\n");
    cx.getSpec().setTimeoutSeconds(30);
    client.resource(cx).create();
    await().until(() -> fake.count("RunCommand") == 1);
    CodeExecution running = get("doomed");
    assertThat(running.getStatus().getSandbox().getId()).isIn(fake.liveSandboxes());

    client.resources(CodeExecution.class).inNamespace("default").withName("doomed").delete();
    await().until(() -> fake.liveSandboxes().isEmpty());
  }

  @Test
  void anExecutionStartedByAnEarlierOperatorIsInterruptedAndItsSandboxDeleted() {
    client.resource(aliyunSecret("default")).create();
    client.resource(anAliyunProvider("default", "aliyun", fake)).create();
    client.resource(execution("orphan")).create();
    CodeExecution created = get("orphan");
    // What the earlier operator process wrote before it died: Started, with the sandbox id.
    String sandboxId = "sbx-leftover-" + created.getMetadata().getUid();
    created.setStatus(
        CodeExecutionStatusCalculator.started(
            created, "aliyun", ProviderType.ALIYUN, sandboxId, Instant.now()));
    client.resource(created).updateStatus();
    fake.withTemplate(
        dev.sandboxes.operator.backend.aliyun.AliyunSettings.DEFAULT_TEMPLATE, "READY");
    fake.addLeftover(
        sandboxId,
        dev.sandboxes.operator.backend.aliyun.AliyunSettings.DEFAULT_TEMPLATE,
        Instant.now());

    startOperator();

    CodeExecution cx = awaitPhase("orphan", Phase.FAILED);
    assertThat(Conditions.reason(cx.getStatus().getConditions(), ConditionTypes.SUCCEEDED))
        .isEqualTo(CodeExecutionReason.INTERRUPTED.value());
    await().until(() -> fake.liveSandboxes().isEmpty());
    assertThat(fake.deletedSandboxes()).containsExactly(sandboxId);
    assertThat(fake.count("RunCommand")).isZero();
  }

  /**
   * An execution with AgentRun's longest limit: no test here is about it, and a loaded machine
   * starts Python slowly.
   */
  private static CodeExecution execution(String name) {
    CodeExecution cx = anExecution("default", name, "aliyun");
    cx.getSpec().setTimeoutSeconds(30);
    return cx;
  }
}
