package dev.sandboxes.operator.sandboxprovider;

import static dev.sandboxes.operator.testing.TestResources.aSecret;
import static dev.sandboxes.operator.testing.TestResources.aliyunSecret;
import static dev.sandboxes.operator.testing.TestResources.anAliyunProvider;
import static dev.sandboxes.operator.testing.TestResources.anE2bProvider;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.CanarySpec;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.api.v1alpha1.SandboxProviderReason;
import dev.sandboxes.operator.backend.SandboxBackendFactory;
import dev.sandboxes.operator.backend.aliyun.AgentRunTimings;
import dev.sandboxes.operator.backend.aliyun.AliyunSandboxBackend;
import dev.sandboxes.operator.backend.e2b.E2bSandboxBackend;
import dev.sandboxes.operator.backend.e2b.E2bTimings;
import dev.sandboxes.operator.testing.FakeAgentRunServer;
import dev.sandboxes.operator.testing.FakeE2bServer;
import dev.sandboxes.operator.testing.OperatorMockTest;
import io.fabric8.kubernetes.api.model.Condition;
import java.time.Clock;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * spec.canary through the whole operator (fabric8 CRUD mock server) against the Aliyun and E2B
 * fakes, which run the canary's code for real: CanaryPassed True with the measured latency when the
 * service works; False, with the service's own explanation, when it only looks healthy to the
 * control-plane probe (Ready stays True: the probe cannot see it, which is why the canary exists).
 */
@Tag("mock")
class CanaryMockTest extends OperatorMockTest {
  private static final AgentRunTimings ALIYUN_TIMINGS =
      new AgentRunTimings(
          Duration.ofSeconds(5),
          3,
          Duration.ofMillis(50),
          Duration.ofSeconds(20),
          Duration.ofMillis(500),
          Duration.ofSeconds(2),
          Duration.ofSeconds(10),
          Duration.ofMillis(50),
          Duration.ofSeconds(2),
          300,
          Duration.ofHours(1),
          Duration.ofMinutes(10),
          8L * 1024 * 1024);
  private static final E2bTimings E2B_TIMINGS =
      new E2bTimings(
          Duration.ofSeconds(30),
          Duration.ofSeconds(5),
          Duration.ofMillis(200),
          Duration.ofSeconds(1),
          Duration.ofMinutes(1));

  private final String apiKey = FakeE2bServer.newApiKey();
  private FakeAgentRunServer agentRun;
  private FakeE2bServer e2b;

  @BeforeEach
  void start() throws Exception {
    agentRun = new FakeAgentRunServer();
    e2b = new FakeE2bServer(apiKey);
    SandboxBackendFactory factory =
        new SandboxBackendFactory()
            .register(
                ProviderType.ALIYUN,
                context -> new AliyunSandboxBackend(context, ALIYUN_TIMINGS, Clock.systemUTC()))
            .register(
                ProviderType.E2B,
                context -> new E2bSandboxBackend(context, e2b.sandboxUrl(), E2B_TIMINGS));
    startOperator(factory);
  }

  @AfterEach
  void stop() {
    try {
      stopOperator();
      assertThat(agentRun.liveSandboxes()).as("sandboxes left in AgentRun").isEmpty();
      await()
          .atMost(Duration.ofSeconds(10))
          .untilAsserted(() -> assertThat(e2b.liveSandboxes()).isEmpty());
    } finally {
      agentRun.close();
      e2b.close();
    }
  }

  @Test
  void aWorkingAliyunProviderPassesItsCanaryWithTheLatencyMeasured() {
    client.resource(aliyunSecret(NAMESPACE)).create();
    SandboxProvider provider = anAliyunProvider(NAMESPACE, "aliyun", agentRun);
    provider.getSpec().setCanary(canary(Language.PYTHON));
    client.resource(provider).create();

    SandboxProvider passed = awaitCanary("aliyun", "True");

    Condition condition =
        Conditions.get(passed.getStatus().getConditions(), ConditionTypes.CANARY_PASSED)
            .orElseThrow();
    assertThat(condition.getReason()).isEqualTo(SandboxProviderReason.CANARY_SUCCEEDED.value());
    assertThat(condition.getMessage()).matches("A python execution ran end to end in \\d+ ms\\.");
    assertThat(passed.getStatus().getCanary().getLatencyMillis()).isPositive();
    assertThat(passed.getStatus().getCanary().getLanguage()).isEqualTo(Language.PYTHON);
    assertThat(passed.getStatus().getCanary().getLastRunTime()).isNotBlank();
    assertThat(agentRun.count("RunCommand")).isEqualTo(1);
    assertThat(agentRun.deletedSandboxes()).hasSize(1);
    System.out.printf(
        "Aliyun canary against the fake: %d ms%n",
        passed.getStatus().getCanary().getLatencyMillis());
  }

  @Test
  void anAliyunProviderWhoseCommandsTimeOutFailsItsCanaryWhileReady() {
    // Every command meets the gateway's 504, however fast: the gateway gives up before the command
    // can
    // end (with 200 ms a quiet machine ran the canary in time and it passed).
    agentRun.gatewayTimeout(Duration.ZERO);
    client.resource(aliyunSecret(NAMESPACE)).create();
    SandboxProvider provider = anAliyunProvider(NAMESPACE, "aliyun", agentRun);
    provider.getSpec().setCanary(canary(null));
    client.resource(provider).create();

    SandboxProvider failed = awaitCanary("aliyun", "False");

    assertThat(Conditions.isTrue(failed.getStatus().getConditions(), ConditionTypes.READY))
        .isTrue();
    Condition condition =
        Conditions.get(failed.getStatus().getConditions(), ConditionTypes.CANARY_PASSED)
            .orElseThrow();
    assertThat(condition.getReason()).isEqualTo(SandboxProviderReason.CANARY_FAILED.value());
    assertThat(condition.getMessage())
        .startsWith("A python execution failed after")
        .contains("it timed out")
        .contains("HTTP 504");
  }

  @Test
  void anE2bProviderPassesAndATemplateWithoutNodeFailsTheJavaScriptCanary() {
    e2b.addTemplate("no-node");
    e2b.withoutCommand("node");
    client.resource(aSecret(NAMESPACE, "e2b", "apiKey", apiKey)).create();
    SandboxProvider good = anE2bProvider(NAMESPACE, "e2b-good", e2b.apiUrl(), "e2b");
    good.getSpec().setCanary(canary(Language.PYTHON));
    SandboxProvider broken = anE2bProvider(NAMESPACE, "e2b-broken", e2b.apiUrl(), "e2b");
    broken.getSpec().getE2b().setTemplate("no-node");
    broken.getSpec().setCanary(canary(Language.JAVASCRIPT));
    client.resource(good).create();
    client.resource(broken).create();

    SandboxProvider passed = awaitCanary("e2b-good", "True");
    SandboxProvider failed = awaitCanary("e2b-broken", "False");

    assertThat(
            Conditions.get(passed.getStatus().getConditions(), ConditionTypes.CANARY_PASSED)
                .orElseThrow()
                .getMessage())
        .startsWith("A python execution ran end to end in");
    assertThat(Conditions.isTrue(failed.getStatus().getConditions(), ConditionTypes.READY))
        .isTrue();
    assertThat(
            Conditions.get(failed.getStatus().getConditions(), ConditionTypes.CANARY_PASSED)
                .orElseThrow()
                .getMessage())
        .contains("A javascript execution failed")
        .contains("no node on envd's PATH")
        .contains("no-node");
  }

  @Test
  void withoutSpecCanaryThereIsNoCondition() {
    client.resource(aliyunSecret(NAMESPACE)).create();
    client.resource(anAliyunProvider(NAMESPACE, "plain", agentRun)).create();
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () -> {
              SandboxProvider p = provider("plain");
              return p.getStatus() != null
                  && Conditions.isTrue(p.getStatus().getConditions(), ConditionTypes.READY);
            });
    SandboxProvider plain = provider("plain");
    assertThat(Conditions.get(plain.getStatus().getConditions(), ConditionTypes.CANARY_PASSED))
        .isEmpty();
    assertThat(plain.getStatus().getCanary()).isNull();
    assertThat(agentRun.count("CreateSandbox")).isZero();
  }

  private static CanarySpec canary(Language language) {
    CanarySpec canary = new CanarySpec();
    canary.setIntervalSeconds(300);
    canary.setLanguage(language);
    return canary;
  }

  private SandboxProvider awaitCanary(String name, String status) {
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () -> {
              SandboxProvider p = provider(name);
              return p != null
                  && p.getStatus() != null
                  && Conditions.get(p.getStatus().getConditions(), ConditionTypes.CANARY_PASSED)
                      .map(c -> status.equals(c.getStatus()))
                      .orElse(false);
            });
    return provider(name);
  }
}
