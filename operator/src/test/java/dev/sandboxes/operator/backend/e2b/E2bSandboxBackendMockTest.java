package dev.sandboxes.operator.backend.e2b;

import static dev.sandboxes.operator.testing.TestResources.aSecret;
import static dev.sandboxes.operator.testing.TestResources.anE2bProvider;
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
import dev.sandboxes.operator.testing.FakeE2bServer;
import dev.sandboxes.operator.testing.OperatorMockTest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * CodeExecutions on an E2B SandboxProvider through the whole operator (fabric8 CRUD mock server)
 * against {@link FakeE2bServer}: Ready from a real probe, a run that succeeds, a rejected key,
 * quota refusals that keep executions Pending, and deletion mid-run.
 */
@Tag("mock")
class E2bSandboxBackendMockTest extends OperatorMockTest {

  private final String apiKey = FakeE2bServer.newApiKey();
  private FakeE2bServer fake;
  private volatile E2bTimings timings =
      new E2bTimings(
          Duration.ofSeconds(30),
          Duration.ofSeconds(30),
          Duration.ofMillis(200),
          Duration.ofSeconds(1),
          Duration.ofMinutes(10));

  @BeforeEach
  void start() throws Exception {
    fake = new FakeE2bServer(apiKey);
    SandboxBackendFactory factory =
        new SandboxBackendFactory()
            .register(
                ProviderType.E2B,
                context -> new E2bSandboxBackend(context, fake.sandboxUrl(), timings));
    startOperator(factory);
  }

  @AfterEach
  void stop() {
    try {
      await().untilAsserted(() -> assertThat(fake.liveSandboxes()).isEmpty());
    } finally {
      stopOperator();
      fake.close();
    }
  }

  @Test
  void aCodeExecutionSucceedsOnAnE2bProvider() {
    client.resource(aSecret(NAMESPACE, "e2b", "apiKey", apiKey)).create();
    client.resource(anE2bProvider(NAMESPACE, "e2b", fake.apiUrl(), "e2b")).create();
    CodeExecution request = execution("hello-e2b");
    request
        .getSpec()
        .setCode("def main(x):\n    print('ran in e2b')\n    return {'doubled': x * 2}\n");
    request.getSpec().setArguments(Map.of("x", 21));
    client.resource(request).create();

    CodeExecution cx = awaitPhase("hello-e2b", Phase.SUCCEEDED);

    assertThat(cx.getStatus().getExitCode()).isZero();
    assertThat(cx.getStatus().getStdout()).isEqualTo("ran in e2b\n");
    assertThat(cx.getStatus().getResult().toString()).isEqualTo("{\"doubled\":42}");
    assertThat(cx.getStatus().getSandbox().getType()).isEqualTo(ProviderType.E2B);
    assertThat(cx.getStatus().getSandbox().getProvider()).isEqualTo("e2b");
    assertThat(fake.killedSandboxes()).containsExactly(cx.getStatus().getSandbox().getId());
    SandboxProvider provider =
        client.resources(SandboxProvider.class).inNamespace(NAMESPACE).withName("e2b").get();
    assertThat(Conditions.reason(provider.getStatus().getConditions(), ConditionTypes.READY))
        .isEqualTo(SandboxProviderReason.BACKEND_REACHABLE.value());
  }

  @Test
  void aRejectedKeyMakesTheProviderNotReadyAndExecutionsWait() {
    client.resource(aSecret(NAMESPACE, "wrong", "apiKey", FakeE2bServer.newApiKey())).create();
    client.resource(anE2bProvider(NAMESPACE, "e2b", fake.apiUrl(), "wrong")).create();
    client.resource(execution("waits")).create();

    await()
        .untilAsserted(
            () -> {
              SandboxProvider provider =
                  client
                      .resources(SandboxProvider.class)
                      .inNamespace(NAMESPACE)
                      .withName("e2b")
                      .get();
              assertThat(provider.getStatus()).isNotNull();
              assertThat(
                      Conditions.reason(provider.getStatus().getConditions(), ConditionTypes.READY))
                  .isEqualTo(SandboxProviderReason.CREDENTIALS_REJECTED.value());
            });
    SandboxProvider provider =
        client.resources(SandboxProvider.class).inNamespace(NAMESPACE).withName("e2b").get();
    String message =
        Conditions.get(provider.getStatus().getConditions(), ConditionTypes.READY)
            .orElseThrow()
            .getMessage();
    assertThat(message).contains("Secret wrong").contains("HTTP 401");
    CodeExecution cx =
        awaitReason(
            "waits", ConditionTypes.ACCEPTED, CodeExecutionReason.PROVIDER_NOT_READY.value());
    assertThat(cx.getStatus().getPhase()).isEqualTo(Phase.PENDING);
    assertThat(fake.createRequests()).isEmpty();
  }

  @Test
  void quotaRefusalsKeepLaterExecutionsPendingUntilTheServiceHasRoom() throws Exception {
    timings =
        new E2bTimings(
            Duration.ofSeconds(30),
            Duration.ofSeconds(30),
            Duration.ofSeconds(3),
            Duration.ofSeconds(3),
            Duration.ofMinutes(10));
    fake.quota(1);
    client.resource(aSecret(NAMESPACE, "e2b", "apiKey", apiKey)).create();
    client.resource(anE2bProvider(NAMESPACE, "e2b", fake.apiUrl(), "e2b")).create();
    // The first run holds the only sandbox until the test lets it go (the fake runs code on this
    // machine, so a file is the latch): the others' waiting is seen, not raced against a sleep.
    Path release = Files.createTempDirectory("e2b-quota").resolve("release");
    CodeExecution first = execution("first");
    first
        .getSpec()
        .setCode(
            "import os, time\ndef main(x):\n    while not os.path.exists("
                + quoted(release)
                + "):\n"
                + "        time.sleep(0.05)\n    return x\n");
    client.resource(first).create();
    awaitPhase("first", Phase.RUNNING);
    await().until(() -> fake.liveSandboxes().size() == 1);

    client.resource(execution("second")).create(); // gets a lease, is refused, retries
    await().until(() -> fake.createRequests().size() >= 2);
    client.resource(execution("third")).create(); // the gate is closed: Pending
    awaitReason("third", ConditionTypes.SUCCEEDED, CodeExecutionReason.WAITING_FOR_SANDBOX.value());
    assertThat(get("third").getStatus().getPhase()).isEqualTo(Phase.PENDING);
    Files.createFile(release);

    for (String name : new String[] {"first", "second", "third"}) {
      CodeExecution cx = awaitPhase(name, Phase.SUCCEEDED);
      assertThat(cx.getStatus().getResult().toString()).isEqualTo("1");
    }
    assertThat(fake.peakLive()).isEqualTo(1);
  }

  @Test
  void deletingARunningExecutionKillsItsSandbox() {
    client.resource(aSecret(NAMESPACE, "e2b", "apiKey", apiKey)).create();
    client.resource(anE2bProvider(NAMESPACE, "e2b", fake.apiUrl(), "e2b")).create();
    CodeExecution slow = execution("doomed");
    slow.getSpec().setCode("import time\ndef main(x):\n    time.sleep(60)\n");
    slow.getSpec().setTimeoutSeconds(120);
    client.resource(slow).create();
    await().until(() -> fake.journal().stream().anyMatch(l -> l.startsWith("input ")));
    String sandbox = fake.liveSandboxes().iterator().next();
    await()
        .untilAsserted(
            () -> assertThat(get("doomed").getStatus().getSandbox().getId()).isEqualTo(sandbox));

    client.resources(CodeExecution.class).inNamespace(NAMESPACE).withName("doomed").delete();

    await().untilAsserted(() -> assertThat(fake.killedSandboxes()).containsExactly(sandbox));
    assertThat(fake.runningProcesses()).isZero();
  }

  /**
   * An execution whose time limit is generous: no test here is about the limit, and a loaded
   * machine starts Python slowly.
   */
  private static CodeExecution execution(String name) {
    CodeExecution cx = anExecution(NAMESPACE, name, "e2b");
    cx.getSpec().setTimeoutSeconds(120);
    return cx;
  }

  private static String quoted(Path path) {
    return "'" + path.toString().replace("\\", "\\\\").replace("'", "\\'") + "'";
  }
}
