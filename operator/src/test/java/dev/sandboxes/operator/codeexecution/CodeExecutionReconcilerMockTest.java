package dev.sandboxes.operator.codeexecution;

import static dev.sandboxes.operator.testing.TestResources.aDockerProvider;
import static dev.sandboxes.operator.testing.TestResources.anExecution;
import static dev.sandboxes.operator.testing.TestResources.asDefault;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.sandboxes.api.ApiConstants;
import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionReason;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.ExecutionLimits;
import dev.sandboxes.api.v1alpha1.Phase;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.operator.backend.SandboxBackendFactory;
import dev.sandboxes.operator.execution.ExecutionRequest;
import dev.sandboxes.operator.testing.FakeSandboxBackend;
import dev.sandboxes.operator.testing.OperatorMockTest;
import dev.sandboxes.operator.testing.TestResources;
import io.fabric8.kubernetes.api.model.FieldsV1;
import io.fabric8.kubernetes.api.model.ManagedFieldsEntryBuilder;
import io.fabric8.kubernetes.api.model.events.v1.Event;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.http.RecordedRequest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The CodeExecution lifecycle on fabric8's CRUD mock server with an in-memory backend: a plain
 * JOSDK operator, merge-patch status, no schema validation (the validator does it), no GC.
 */
@Tag("mock")
class CodeExecutionReconcilerMockTest extends OperatorMockTest {

  private final Map<String, FakeSandboxBackend> backends = new ConcurrentHashMap<>();

  /** Set by fabric8's extension: its request log. */
  KubernetesMockServer server;

  private volatile int sandboxes = 4;

  @BeforeEach
  void start() {
    startOperator(fakeBackends());
  }

  private SandboxBackendFactory fakeBackends() {
    return new SandboxBackendFactory()
        .register(
            ProviderType.DOCKER,
            context ->
                backends
                    .computeIfAbsent(
                        context.settings().name(), name -> new FakeSandboxBackend(sandboxes))
                    .builtFrom(context));
  }

  @Test
  void aWaitingExecutionWhoseCachedCopyHoldsItsInputsStartsWithoutAnotherRead() throws Exception {
    List<String> codes = new CopyOnWriteArrayList<>();
    backends.put("fake", new FakeSandboxBackend(sandboxes).beforeRun(r -> codes.add(r.code())));
    client.resource(aDockerProvider("default", "fake")).create();

    // As the API server has it: managedFields, short code, no arguments.
    CodeExecution whole = measured(anExecution("default", "whole", "fake"));
    whole.getSpec().setArguments(null);
    whole.getSpec().setCode("def main():\n    return 1\n");
    // The control: arguments are never cached, so this one is read whole before its start.
    CodeExecution withArguments = measured(anExecution("default", "with-arguments", "fake"));
    drainRequests();
    client.resource(whole).create();
    client.resource(withArguments).create();

    awaitListedPhase("whole", Phase.SUCCEEDED);
    awaitListedPhase("with-arguments", Phase.SUCCEEDED);
    List<RecordedRequest> requests = drainRequests();
    assertThat(codes)
        .containsExactlyInAnyOrder(whole.getSpec().getCode(), "def main(x):\n    return x\n");
    assertThat(reads(requests, "whole")).isZero();
    assertThat(reads(requests, "with-arguments")).isPositive();
  }

  private static CodeExecution measured(CodeExecution cx) {
    cx.getMetadata()
        .setManagedFields(
            List.of(
                new ManagedFieldsEntryBuilder()
                    .withManager("kubectl")
                    .withOperation("Update")
                    .withApiVersion("sandboxes.dev/v1alpha1")
                    .withFieldsType("FieldsV1")
                    .withFieldsV1(new FieldsV1())
                    .build()));
    return cx;
  }

  /** Waits by listing: a GET of the object itself would count as a read. */
  private void awaitListedPhase(String name, Phase phase) {
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                client
                    .resources(CodeExecution.class)
                    .inNamespace(NAMESPACE)
                    .list()
                    .getItems()
                    .stream()
                    .anyMatch(
                        cx ->
                            cx.getMetadata().getName().equals(name)
                                && cx.getStatus() != null
                                && phase == cx.getStatus().getPhase()));
  }

  private List<RecordedRequest> drainRequests() throws InterruptedException {
    List<RecordedRequest> requests = new ArrayList<>();
    for (RecordedRequest r; (r = server.takeRequest(10, TimeUnit.MILLISECONDS)) != null; ) {
      requests.add(r);
    }
    return requests;
  }

  private static long reads(List<RecordedRequest> requests, String name) {
    String path = "/apis/sandboxes.dev/v1alpha1/namespaces/default/codeexecutions/" + name;
    return requests.stream()
        .filter(r -> r.getMethod().equals("GET") && r.getPath().equals(path))
        .count();
  }

  @Test
  void runsAnExecutionAndWritesTheOutcome() {
    client.resource(aDockerProvider("default", "fake")).create();
    client.resource(anExecution("default", "hello", "fake")).create();

    CodeExecution cx = awaitPhase("hello", Phase.SUCCEEDED);
    assertThat(cx.getStatus().getExitCode()).isZero();
    assertThat(cx.getStatus().getStdout()).isEqualTo("ran hello\n");
    assertThat(cx.getStatus().getResult().toString()).isEqualTo("{\"x\":1}");
    assertThat(cx.getStatus().getObservedGeneration()).isEqualTo(cx.getMetadata().getGeneration());
    assertThat(cx.getStatus().getSandbox().getProvider()).isEqualTo("fake");
    assertThat(cx.getStatus().getSandbox().getType()).isEqualTo(ProviderType.DOCKER);
    assertThat(cx.getStatus().getSandbox().getId()).startsWith("fake-");
    assertThat(cx.getStatus().getStartTime()).isNotNull();
    assertThat(cx.getStatus().getCompletionTime()).isNotNull();
    assertThat(cx.getStatus().getDuration()).isEqualTo("5ms");
    assertThat(Conditions.isTrue(cx.getStatus().getConditions(), ConditionTypes.ACCEPTED)).isTrue();
    assertThat(Conditions.isTrue(cx.getStatus().getConditions(), ConditionTypes.STARTED)).isTrue();
    assertThat(Conditions.reason(cx.getStatus().getConditions(), ConditionTypes.SUCCEEDED))
        .isEqualTo("Completed");
    await().untilAsserted(() -> assertThat(eventReasons("hello")).contains("Started", "Completed"));
    assertThat(backends.get("fake").runs(cx.getMetadata().getUid())).isEqualTo(1);
  }

  @Test
  void waitsForAMissingProviderAndRunsWhenItAppears() {
    client.resource(anExecution("default", "early", "late-provider")).create();
    CodeExecution waiting =
        awaitReason(
            "early", ConditionTypes.ACCEPTED, CodeExecutionReason.PROVIDER_NOT_FOUND.value());
    assertThat(waiting.getStatus().getPhase()).isEqualTo(Phase.PENDING);
    assertThat(waiting.getStatus().getMessage())
        .contains("late-provider")
        .contains("does not exist");

    client.resource(aDockerProvider("default", "late-provider")).create();
    awaitPhase("early", Phase.SUCCEEDED);
  }

  @Test
  void usesTheNamespaceDefaultProvider() {
    client.resource(aDockerProvider("default", "other")).create();
    client.resource(asDefault(aDockerProvider("default", "the-default"))).create();
    client.resource(anExecution("default", "defaulted", null)).create();

    CodeExecution cx = awaitPhase("defaulted", Phase.SUCCEEDED);
    assertThat(cx.getStatus().getSandbox().getProvider()).isEqualTo("the-default");
  }

  @Test
  void invalidSpecFailsWithoutRunningAndNamesTheField() {
    client.resource(aDockerProvider("default", "fake")).create();
    CodeExecution bad = anExecution("default", "bad", "fake");
    bad.getSpec()
        .setCodeFrom(new dev.sandboxes.api.v1alpha1.CodeSource()); // both code and codeFrom
    bad.getSpec().setEntrypoint("not a name");
    client.resource(bad).create();

    CodeExecution cx = awaitPhase("bad", Phase.FAILED);
    assertThat(Conditions.reason(cx.getStatus().getConditions(), ConditionTypes.SUCCEEDED))
        .isEqualTo("InvalidSpec");
    assertThat(Conditions.reason(cx.getStatus().getConditions(), ConditionTypes.ACCEPTED))
        .isEqualTo("InvalidSpec");
    assertThat(cx.getStatus().getMessage())
        .contains("spec.code and spec.codeFrom")
        .contains("spec.entrypoint");
    await().untilAsserted(() -> assertThat(eventReasons("bad")).contains("InvalidSpec"));
    assertThat(backends.get("fake").totalRuns()).isZero();
  }

  @Test
  void timeoutAboveTheProviderMaximumIsRejectedNotClamped() {
    SandboxProvider provider = aDockerProvider("default", "fake");
    ExecutionLimits limits = new ExecutionLimits();
    limits.setMaxTimeoutSeconds(30);
    provider.getSpec().setLimits(limits);
    client.resource(provider).create();
    CodeExecution cx = anExecution("default", "too-long", "fake");
    cx.getSpec().setTimeoutSeconds(31);
    client.resource(cx).create();

    CodeExecution failed = awaitPhase("too-long", Phase.FAILED);
    assertThat(failed.getStatus().getMessage())
        .contains("spec.timeoutSeconds is 31")
        .contains("at most 30");
  }

  @Test
  void queuesWhenNoSandboxIsFreeAndRunsOldestFirst() throws Exception {
    sandboxes = 0;
    client.resource(aDockerProvider("default", "busy")).create();
    for (int i = 1; i <= 3; i++) {
      client.resource(anExecution("default", "queued-" + i, "busy")).create();
      Thread.sleep(1100); // creationTimestamp has second precision
    }
    for (int i = 1; i <= 3; i++) {
      CodeExecution waiting =
          awaitReason(
              "queued-" + i,
              ConditionTypes.SUCCEEDED,
              CodeExecutionReason.WAITING_FOR_SANDBOX.value());
      assertThat(waiting.getStatus().getPhase()).isEqualTo(Phase.PENDING);
      assertThat(Conditions.isTrue(waiting.getStatus().getConditions(), ConditionTypes.ACCEPTED))
          .isTrue();
    }
    backends.get("busy").addCapacity(1);
    for (int i = 1; i <= 3; i++) {
      awaitPhase("queued-" + i, Phase.SUCCEEDED);
    }
    assertThat(backends.get("busy").startOrder())
        .containsExactly("queued-1", "queued-2", "queued-3");
  }

  @Test
  void maxConcurrentExecutionsLimitsRunsAtOnce() {
    SandboxProvider provider = aDockerProvider("default", "limited");
    ExecutionLimits limits = new ExecutionLimits();
    limits.setMaxConcurrentExecutions(1);
    provider.getSpec().setLimits(limits);
    client.resource(provider).create();
    await().until(() -> backends.containsKey("limited"));
    backends.get("limited").gate("slow");
    client.resource(anExecution("default", "slow-1", "limited")).create();
    awaitPhase("slow-1", Phase.RUNNING);
    client.resource(anExecution("default", "next", "limited")).create();
    awaitReason("next", ConditionTypes.SUCCEEDED, CodeExecutionReason.WAITING_FOR_SANDBOX.value());

    backends.get("limited").open("slow");
    awaitPhase("slow-1", Phase.SUCCEEDED);
    awaitPhase("next", Phase.SUCCEEDED);
  }

  @Test
  void anOperatorRestartMidRunFinishesTheExecutionAsInterruptedAndNeverRunsItTwice() {
    client.resource(aDockerProvider("default", "fake")).create();
    await().until(() -> backends.containsKey("fake"));
    backends.get("fake").gate("victim");
    client.resource(anExecution("default", "victim", "fake")).create();
    CodeExecution running = awaitPhase("victim", Phase.RUNNING);
    String uid = running.getMetadata().getUid();
    String sandbox = running.getStatus().getSandbox().getId();

    // The operator dies mid-run: no drain, the run's outcome never reaches the API server.
    operator.operator().stop();
    operator.tracker().close();
    startOperator(fakeBackends());

    CodeExecution cx = awaitPhase("victim", Phase.FAILED);
    assertThat(Conditions.reason(cx.getStatus().getConditions(), ConditionTypes.SUCCEEDED))
        .isEqualTo("Interrupted");
    assertThat(cx.getStatus().getMessage()).contains("not run again");
    assertThat(backends.get("fake").runs(uid)).isEqualTo(1);
    assertThat(backends.get("fake").discarded()).contains(sandbox);
  }

  @Test
  void gracefulShutdownFinishesRunningExecutionsAsInterruptedNeverLeavingThemRunning() {
    client.resource(aDockerProvider("default", "fake")).create();
    await().until(() -> backends.containsKey("fake"));
    backends.get("fake").gate("long");
    client.resource(anExecution("default", "long", "fake")).create();
    awaitPhase("long", Phase.RUNNING);

    stopOperator(Duration.ofMillis(500)); // the run does not finish within the grace period

    CodeExecution cx = get("long");
    assertThat(cx.getStatus().getPhase()).isEqualTo(Phase.FAILED);
    assertThat(Conditions.reason(cx.getStatus().getConditions(), ConditionTypes.SUCCEEDED))
        .isEqualTo("Interrupted");
    assertThat(cx.getStatus().getMessage()).contains("operator shut down");
  }

  @Test
  void exposesMetricsAndHealth() throws Exception {
    client.resource(aDockerProvider("default", "fake")).create();
    client.resource(anExecution("default", "measured", "fake")).create();
    awaitPhase("measured", Phase.SUCCEEDED);
    try (var health =
        new dev.sandboxes.operator.health.HealthServer(
                0, operator.operator(), operator.meterRegistry(), operator::stopping)
            .start()) {
      var http = java.net.http.HttpClient.newHttpClient();
      String base = "http://127.0.0.1:" + health.port();
      var metrics =
          http.send(
              java.net.http.HttpRequest.newBuilder(java.net.URI.create(base + "/metrics")).build(),
              java.net.http.HttpResponse.BodyHandlers.ofString());
      assertThat(metrics.body())
          .contains(
              "sandbox_codeexecution_completed_total{language=\"python\",outcome=\"Completed\",type=\"Docker\"} 1.0")
          .contains("sandbox_provider_ready{type=\"Docker\"} 1.0")
          .contains("sandbox_codeexecution_queue_wait_seconds_count")
          .doesNotContain("measured"); // no names in tags
      await()
          .untilAsserted(
              () ->
                  assertThat(
                          http.send(
                                  java.net.http.HttpRequest.newBuilder(
                                          java.net.URI.create(base + "/readyz"))
                                      .build(),
                                  java.net.http.HttpResponse.BodyHandlers.ofString())
                              .statusCode())
                      .isEqualTo(200));
      assertThat(
              http.send(
                      java.net.http.HttpRequest.newBuilder(java.net.URI.create(base + "/healthz"))
                          .build(),
                      java.net.http.HttpResponse.BodyHandlers.ofString())
                  .statusCode())
          .isEqualTo(200);
    }
  }

  @Test
  void deletingAFinishedExecutionAfterItsTtl() {
    client.resource(aDockerProvider("default", "fake")).create();
    CodeExecution cx = anExecution("default", "short-lived", "fake");
    cx.getSpec().setTtlSecondsAfterFinished(1);
    client.resource(cx).create();
    awaitPhase("short-lived", Phase.SUCCEEDED);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                client
                        .resources(CodeExecution.class)
                        .inNamespace("default")
                        .withName("short-lived")
                        .get()
                    == null);
  }

  @Test
  void deletingARunningExecutionCancelsItsRun() {
    client.resource(aDockerProvider("default", "fake")).create();
    await().until(() -> backends.containsKey("fake"));
    backends.get("fake").gate("doomed");
    client.resource(anExecution("default", "doomed", "fake")).create();
    awaitPhase("doomed", Phase.RUNNING);
    client.resources(CodeExecution.class).inNamespace("default").withName("doomed").delete();
    await().untilAsserted(() -> assertThat(operator.tracker().active()).isEmpty());
  }

  @Test
  void largeCodeAndArgumentsReachTheBackendThoughTheCacheDoesNotHoldThem() {
    client.resource(aDockerProvider("default", "fake")).create();
    await().until(() -> backends.containsKey("fake"));
    java.util.concurrent.atomic.AtomicReference<dev.sandboxes.operator.execution.ExecutionRequest>
        seen = new java.util.concurrent.atomic.AtomicReference<>();
    backends
        .get("fake")
        .behaviour(
            request -> {
              seen.set(request);
              return FakeSandboxBackend.succeedWithArguments(request);
            });
    CodeExecution cx = anExecution("default", "big", "fake");
    String code = "# " + "x".repeat(200_000) + "\ndef main(**arguments):\n    return arguments\n";
    cx.getSpec().setCode(code);
    cx.getSpec()
        .setArguments(
            Map.of("blob", "y".repeat(300_000), "nested", Map.of("list", List.of(1, true))));
    client.resource(cx).create();

    CodeExecution done = awaitPhase("big", Phase.SUCCEEDED);
    assertThat(seen.get().code()).isEqualTo(code);
    assertThat(seen.get().arguments().get("blob").asText()).hasSize(300_000);
    assertThat(seen.get().arguments().at("/nested/list/1").asBoolean()).isTrue();
    assertThat(done.getStatus().getResult().get("blob").asText()).hasSize(300_000);
  }

  @Test
  void argumentsNestedTooDeeplyAreAnInvalidSpecNamingTheField() {
    client.resource(aDockerProvider("default", "fake")).create();
    Object deep = "bottom";
    for (int i = 0; i < 100; i++) {
      deep = Map.of("level", deep);
    }
    CodeExecution cx = anExecution("default", "deep", "fake");
    cx.getSpec().setArguments(Map.of("root", deep));
    client.resource(cx).create();
    CodeExecution failed = awaitPhase("deep", Phase.FAILED);
    assertThat(Conditions.reason(failed.getStatus().getConditions(), ConditionTypes.SUCCEEDED))
        .isEqualTo("InvalidSpec");
    assertThat(failed.getStatus().getMessage())
        .contains("spec.arguments nests 101 levels deep; at most 64");
  }

  @Test
  void aSpecChangeAfterTheEndKeepsTheStoredOutputAndResult() {
    client.resource(aDockerProvider("default", "fake")).create();
    client.resource(anExecution("default", "kept", "fake")).create();
    CodeExecution done = awaitPhase("kept", Phase.SUCCEEDED);
    assertThat(done.getStatus().getStdout()).isEqualTo("ran kept\n");

    // The operator rewrites the finished status (observedGeneration); its cache has no output.
    done.getSpec().setTimeoutSeconds(5);
    client.resource(done).update();
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () -> assertThat(get("kept").getStatus().getObservedGeneration()).isEqualTo(2L));
    CodeExecution after = get("kept");
    assertThat(after.getStatus().getStdout()).isEqualTo("ran kept\n");
    assertThat(after.getStatus().getResult().toString()).isEqualTo("{\"x\":1}");
    assertThat(after.getStatus().getCompletionTime())
        .isEqualTo(done.getStatus().getCompletionTime());
    await().untilAsserted(() -> assertThat(eventReasons("kept")).contains("SpecChangeIgnored"));
  }

  @Test
  void codeFromAMissingConfigMapWaitsThenRuns() {
    client.resource(aDockerProvider("default", "fake")).create();
    CodeExecution cx = anExecution("default", "from-config", "fake");
    cx.getSpec().setCode(null);
    var source = new dev.sandboxes.api.v1alpha1.CodeSource();
    var ref = new dev.sandboxes.api.v1alpha1.ConfigMapKeyReference();
    ref.setName("code");
    ref.setKey("main.py");
    source.setConfigMapKeyRef(ref);
    cx.getSpec().setCodeFrom(source);
    client.resource(cx).create();
    CodeExecution waiting =
        awaitReason(
            "from-config",
            ConditionTypes.ACCEPTED,
            CodeExecutionReason.REFERENCE_NOT_FOUND.value());
    assertThat(waiting.getStatus().getMessage()).contains("ConfigMap code");

    client
        .resource(
            new io.fabric8.kubernetes.api.model.ConfigMapBuilder()
                .withNewMetadata()
                .withName("code")
                .withNamespace("default")
                .endMetadata()
                .addToData("main.py", "def main(x):\n    return x\n")
                .build())
        .create();
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> assertThat(get("from-config").getStatus().getPhase()).isEqualTo(Phase.SUCCEEDED));
  }

  @Test
  void secretsThatDidNotOptInAreNeverReadForAnExecutionAndItNeverStarts() throws Exception {
    client.resource(aDockerProvider("default", "fake")).create();
    // A credential that is not meant for executions: no sandboxes.dev/execution-input label.
    client
        .resource(
            TestResources.aSecret(
                "default",
                "registry-credentials",
                ".dockerconfigjson",
                "{\"auths\":{\"registry.example\":{\"auth\":\"c2VjcmV0\"}}}"))
        .create();
    CodeExecution asCode = anExecution("default", "steal-as-code", "fake");
    asCode.getSpec().setCode(null);
    asCode.getSpec().setCodeFrom(codeFromSecret("registry-credentials", ".dockerconfigjson"));
    client.resource(asCode).create();
    CodeExecution asArguments = anExecution("default", "steal-as-arguments", "fake");
    asArguments.getSpec().setCode("def main(**a):\n    return a\n");
    asArguments
        .getSpec()
        .setArgumentsFrom(argumentsFromSecret("registry-credentials", ".dockerconfigjson"));
    client.resource(asArguments).create();

    for (String name : List.of("steal-as-code", "steal-as-arguments")) {
      CodeExecution cx = awaitPhase(name, Phase.FAILED);
      String field =
          name.endsWith("code") ? "spec.codeFrom.secretKeyRef" : "spec.argumentsFrom.secretKeyRef";
      assertThat(Conditions.reason(cx.getStatus().getConditions(), ConditionTypes.SUCCEEDED))
          .isEqualTo(CodeExecutionReason.SECRET_NOT_ALLOWED.value());
      assertThat(Conditions.reason(cx.getStatus().getConditions(), ConditionTypes.ACCEPTED))
          .isEqualTo(CodeExecutionReason.SECRET_NOT_ALLOWED.value());
      assertThat(Conditions.get(cx.getStatus().getConditions(), ConditionTypes.STARTED)).isEmpty();
      assertThat(cx.getStatus().getMessage())
          .contains("Secret registry-credentials")
          .contains(field)
          .contains("sandboxes.dev/execution-input");
      // Nothing of the Secret's content reaches the status.
      assertThat(cx.getStatus().toString()).doesNotContain("c2VjcmV0").doesNotContain("auths");
      await().untilAsserted(() -> assertThat(eventReasons(name)).contains("SecretNotAllowed"));
    }
    assertThat(backends.get("fake") == null ? 0 : backends.get("fake").totalRuns()).isZero();
    // Final, and no retry storm: the status is not rewritten again and again.
    String version = get("steal-as-code").getMetadata().getResourceVersion();
    Thread.sleep(1500);
    assertThat(get("steal-as-code").getMetadata().getResourceVersion()).isEqualTo(version);
    assertThat(eventReasons("steal-as-code")).containsOnlyOnce("SecretNotAllowed");
  }

  @Test
  void aSecretThatOptedInIsReadAndCodeFromItRunsWithItsSourceHidden() {
    client.resource(aDockerProvider("default", "fake")).create();
    await().until(() -> backends.containsKey("fake"));
    List<ExecutionRequest> requests = new CopyOnWriteArrayList<>();
    backends
        .get("fake")
        .behaviour(
            request -> {
              requests.add(request);
              return FakeSandboxBackend.succeedWithArguments(request);
            });
    io.fabric8.kubernetes.api.model.Secret code =
        TestResources.aSecret(
            "default", "private-code", "main.py", "def main(x, token):\n    return x\n");
    code.getMetadata().setLabels(Map.of(ApiConstants.EXECUTION_INPUT_LABEL, "true"));
    client.resource(code).create();
    io.fabric8.kubernetes.api.model.Secret arguments =
        TestResources.aSecret("default", "private-args", "args.json", "{\"token\":\"t0ken\"}");
    arguments.getMetadata().setLabels(Map.of(ApiConstants.EXECUTION_INPUT_LABEL, "true"));
    client.resource(arguments).create();
    CodeExecution cx = anExecution("default", "from-secrets", "fake");
    cx.getSpec().setCode(null);
    cx.getSpec().setCodeFrom(codeFromSecret("private-code", "main.py"));
    cx.getSpec().setArgumentsFrom(argumentsFromSecret("private-args", "args.json"));
    client.resource(cx).create();

    awaitPhase("from-secrets", Phase.SUCCEEDED);
    assertThat(requests)
        .singleElement()
        .satisfies(
            request -> {
              assertThat(request.code()).startsWith("def main(x, token)");
              assertThat(request.arguments().toString()).isEqualTo("{\"x\":1,\"token\":\"t0ken\"}");
              assertThat(request.hideSource())
                  .as("source lines of code from a Secret are not printed")
                  .isTrue();
            });
  }

  private static dev.sandboxes.api.v1alpha1.CodeSource codeFromSecret(String name, String key) {
    var source = new dev.sandboxes.api.v1alpha1.CodeSource();
    source.setSecretKeyRef(secretKey(name, key));
    return source;
  }

  private static dev.sandboxes.api.v1alpha1.ArgumentsSource argumentsFromSecret(
      String name, String key) {
    var source = new dev.sandboxes.api.v1alpha1.ArgumentsSource();
    source.setSecretKeyRef(secretKey(name, key));
    return source;
  }

  private static dev.sandboxes.api.v1alpha1.SecretKeyReference secretKey(String name, String key) {
    var ref = new dev.sandboxes.api.v1alpha1.SecretKeyReference();
    ref.setName(name);
    ref.setKey(key);
    return ref;
  }

  @Test
  void artifactsAreStoredInAConfigMapOwnedByTheExecutionAndListedInTheStatus() {
    client.resource(aDockerProvider("default", "fake")).create();
    await().until(() -> backends.containsKey("fake"));
    var seenLimits =
        new java.util.concurrent.atomic.AtomicReference<
            dev.sandboxes.operator.runner.ArtifactLimits>();
    backends
        .get("fake")
        .behaviour(
            request -> {
              seenLimits.set(request.artifacts());
              var plain = FakeSandboxBackend.succeedWithArguments(request);
              var artifacts =
                  new dev.sandboxes.operator.runner.CollectedArtifacts(
                      List.of(
                          new dev.sandboxes.operator.runner.Artifact(
                              "charts/figure-1.png", new byte[] {(byte) 0x89, 'P', 'N', 'G'}),
                          new dev.sandboxes.operator.runner.Artifact(
                              "report.txt",
                              "hello".getBytes(java.nio.charset.StandardCharsets.UTF_8))),
                      List.of(
                          new dev.sandboxes.operator.runner.CollectedArtifacts.Omitted(
                              "zz.bin", "TooMany", 3L)),
                      1,
                      true,
                      null);
              var report = plain.report();
              return new dev.sandboxes.operator.execution.ExecutionOutcome(
                  plain.termination(),
                  plain.exitCode(),
                  plain.stdout(),
                  plain.stderr(),
                  new dev.sandboxes.operator.runner.RunnerReport(
                      report.status(), null, null, report.result(), null, null, null, artifacts),
                  null,
                  plain.startTime(),
                  plain.completionTime(),
                  null);
            });
    client.resource(anExecution("default", "charted", "fake")).create();

    CodeExecution cx = awaitPhase("charted", Phase.SUCCEEDED);
    assertThat(seenLimits.get()).isEqualTo(dev.sandboxes.operator.runner.ArtifactLimits.DEFAULT);
    var configMap = client.configMaps().inNamespace("default").withName("charted-artifacts").get();
    assertThat(configMap).isNotNull();
    assertThat(configMap.getMetadata().getOwnerReferences())
        .singleElement()
        .satisfies(
            owner -> {
              assertThat(owner.getUid()).isEqualTo(cx.getMetadata().getUid());
              assertThat(owner.getKind()).isEqualTo("CodeExecution");
              assertThat(owner.getController()).isTrue();
            });
    assertThat(configMap.getBinaryData()).containsOnlyKeys("charts_figure-1.png", "report.txt");
    assertThat(java.util.Base64.getDecoder().decode(configMap.getBinaryData().get("report.txt")))
        .asString()
        .isEqualTo("hello");
    var artifacts = cx.getStatus().getArtifacts();
    assertThat(artifacts)
        .extracting(
            a -> a.getName(),
            a -> a.getSizeBytes(),
            a -> a.getContentType(),
            a -> a.getConfigMapKeyRef().getName(),
            a -> a.getConfigMapKeyRef().getKey())
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(
                "charts/figure-1.png", 4L, "image/png", "charted-artifacts", "charts_figure-1.png"),
            org.assertj.core.groups.Tuple.tuple(
                "report.txt", 5L, "text/plain", "charted-artifacts", "report.txt"));
    assertThat(artifacts.get(1).getSha256())
        .isEqualTo(
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"); // sha256("hello")
    assertThat(cx.getStatus().getArtifactsTruncated()).isTrue();
    assertThat(cx.getStatus().getMessage())
        .contains("2 artifacts (9 bytes) stored in ConfigMap charted-artifacts")
        .contains("left out");
    await()
        .untilAsserted(
            () ->
                assertThat(client.events().v1().events().inNamespace("default").list().getItems())
                    .anySatisfy(
                        e -> {
                          assertThat(e.getReason()).isEqualTo("ArtifactsTruncated");
                          assertThat(e.getNote())
                              .contains("zz.bin (over maxArtifacts)")
                              .contains("maxArtifacts");
                        }));
  }

  @Test
  void aConfigMapOfTheSameNameThatBelongsToSomeoneElseIsLeftAloneAndTheRunStillSucceeds() {
    client
        .configMaps()
        .inNamespace("default")
        .resource(
            new io.fabric8.kubernetes.api.model.ConfigMapBuilder()
                .withNewMetadata()
                .withName("taken-artifacts")
                .endMetadata()
                .addToData("mine", "do not touch")
                .build())
        .create();
    client.resource(aDockerProvider("default", "fake")).create();
    await().until(() -> backends.containsKey("fake"));
    backends
        .get("fake")
        .behaviour(
            request -> {
              var plain = FakeSandboxBackend.succeedWithArguments(request);
              var artifacts =
                  new dev.sandboxes.operator.runner.CollectedArtifacts(
                      List.of(new dev.sandboxes.operator.runner.Artifact("a.txt", new byte[] {1})),
                      List.of(),
                      0,
                      false,
                      null);
              return new dev.sandboxes.operator.execution.ExecutionOutcome(
                  plain.termination(),
                  plain.exitCode(),
                  plain.stdout(),
                  plain.stderr(),
                  new dev.sandboxes.operator.runner.RunnerReport(
                      "ok", null, null, null, null, null, null, artifacts),
                  null,
                  plain.startTime(),
                  plain.completionTime(),
                  null);
            });
    client.resource(anExecution("default", "taken", "fake")).create();

    CodeExecution cx = awaitPhase("taken", Phase.SUCCEEDED);
    assertThat(cx.getStatus().getArtifacts()).isNull();
    assertThat(cx.getStatus().getMessage())
        .contains("artifacts could not be stored")
        .contains("does not belong");
    assertThat(
            client.configMaps().inNamespace("default").withName("taken-artifacts").get().getData())
        .containsEntry("mine", "do not touch");
    await().untilAsserted(() -> assertThat(eventReasons("taken")).contains("ArtifactsNotStored"));
  }

  private List<String> eventReasons(String name) {
    return events(name).stream().map(Event::getReason).toList();
  }
}
