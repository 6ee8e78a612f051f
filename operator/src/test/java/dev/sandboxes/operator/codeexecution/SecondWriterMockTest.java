package dev.sandboxes.operator.codeexecution;

import static dev.sandboxes.operator.testing.TestResources.aDockerProvider;
import static dev.sandboxes.operator.testing.TestResources.anExecution;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionReason;
import dev.sandboxes.api.v1alpha1.CodeExecutionStatus;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.Phase;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.operator.SandboxOperator;
import dev.sandboxes.operator.backend.SandboxBackendFactory;
import dev.sandboxes.operator.common.StatusWriter;
import dev.sandboxes.operator.config.OperatorConfig;
import dev.sandboxes.operator.testing.FakeSandboxBackend;
import dev.sandboxes.operator.testing.StatusLockingMockServer;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Another writer changes a CodeExecution between the operator's read and its write: the write is
 * refused (409), the operator reads again, and never runs code that someone else started nor
 * overwrites a status someone else finished. The other writer is this test, writing at the exact
 * moment through the fake backend's hooks; the API server is fabric8's CRUD mock, made to refuse a
 * status PUT on a stale resourceVersion as a real one does ({@link StatusLockingMockServer}).
 */
@Tag("mock")
class SecondWriterMockTest {

  private final StatusLockingMockServer server = new StatusLockingMockServer();
  private final KubernetesClient client = server.client();

  private final Map<String, AtomicInteger> runs = new ConcurrentHashMap<>();
  private final Map<String, FakeSandboxBackend> backends = new ConcurrentHashMap<>();
  private final List<SandboxOperator> operators = new ArrayList<>();
  private final List<Watch> watches = new ArrayList<>();

  @AfterEach
  void stop() {
    watches.forEach(Watch::close);
    operators.forEach(o -> o.stop(Duration.ofSeconds(1)));
    server.close();
  }

  @Test
  void theServerRefusesAStatusWrittenOnAStaleVersion() {
    client.resource(anExecution("default", "probe", "fake")).create();
    CodeExecution first = get("probe");
    CodeExecution second = get("probe");
    CodeExecutionStatus theirs = new CodeExecutionStatus();
    theirs.setMessage("first writer");
    first.setStatus(theirs);
    client.resource(first).updateStatus();
    CodeExecutionStatus ours = new CodeExecutionStatus();
    ours.setMessage("second writer");
    assertThat(StatusWriter.replaceIfUnchanged(client, second, ours, CodeExecution::new)).isEmpty();
    assertThat(get("probe").getStatus().getMessage()).isEqualTo("first writer");
    assertThat(StatusWriter.replaceIfUnchanged(client, get("probe"), ours, CodeExecution::new))
        .isPresent();
    assertThat(get("probe").getStatus().getMessage()).isEqualTo("second writer");
  }

  @Test
  void aStartedWriteThatLosesToAnotherWriterRunsNothingAndGivesTheSandboxBack() {
    FakeSandboxBackend backend = startOperatorWithProvider(1);
    AtomicBoolean once = new AtomicBoolean();
    // Between the operator's read and its Started write, another operator starts the execution.
    backend.onAcquire(
        () -> {
          if (once.compareAndSet(false, true)) {
            writeAsAnotherOperator(
                "contested",
                cx ->
                    CodeExecutionStatusCalculator.started(
                        cx, "fake", ProviderType.DOCKER, "other-operators-sandbox", Instant.now()));
          }
        });
    client.resource(anExecution("default", "contested", "fake")).create();

    await().atMost(Duration.ofSeconds(20)).until(() -> once.get() && backend.free() == 1);
    CodeExecution contested = get("contested");
    assertThat(contested.getStatus().getPhase()).isEqualTo(Phase.RUNNING);
    assertThat(contested.getStatus().getSandbox().getId()).isEqualTo("other-operators-sandbox");
    assertThat(runs(contested)).isZero();

    // The slot and the sandbox went back: the next execution runs on the provider's only sandbox.
    client.resource(anExecution("default", "next", "fake")).create();
    awaitPhase("next", Phase.SUCCEEDED);

    // The other operator finishes its execution; this one neither ran it nor touches it.
    CodeExecutionStatus theirs =
        writeAsAnotherOperator(
            "contested",
            cx ->
                CodeExecutionStatusCalculator.finished(
                    cx,
                    FakeSandboxBackend.succeedWithArguments(request(cx)),
                    dev.sandboxes.api.v1alpha1.OutputLimitAction.TRUNCATE,
                    Duration.ofSeconds(10),
                    Instant.now()));
    await()
        .during(Duration.ofSeconds(2))
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> {
              assertThat(get("contested").getStatus().getCompletionTime())
                  .isEqualTo(theirs.getCompletionTime());
              assertThat(get("contested").getStatus().getSandbox().getId())
                  .isEqualTo("other-operators-sandbox");
            });
    assertThat(runs(get("contested"))).isZero();
  }

  @Test
  void aFinalWriteNeverOverwritesAStatusAnotherWriterFinished() {
    startOperatorWithProvider(2);
    List<String> terminal = recordTerminalStatuses();
    AtomicBoolean competed = new AtomicBoolean();
    // The moment this operator's final status arrives, another operator's lands first.
    server.competeWith(
        (stored, incoming) -> {
          if (!"raced".equals(stored.path("metadata").path("name").asText())
              || !incoming.path("completionTime").isTextual()
              || !competed.compareAndSet(false, true)) {
            return null;
          }
          CodeExecution cx =
              client.getKubernetesSerialization().convertValue(stored, CodeExecution.class);
          return client
              .getKubernetesSerialization()
              .convertValue(
                  CodeExecutionStatusCalculator.interrupted(
                      cx, "Another operator gave up on it", Instant.now()),
                  com.fasterxml.jackson.databind.JsonNode.class);
        });
    client.resource(anExecution("default", "raced", "fake")).create();

    CodeExecution cx = awaitPhase("raced", Phase.FAILED);
    assertThat(competed).isTrue();
    await()
        .during(Duration.ofSeconds(2))
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> {
              CodeExecution now = get("raced");
              assertThat(
                      Conditions.reason(now.getStatus().getConditions(), ConditionTypes.SUCCEEDED))
                  .isEqualTo(CodeExecutionReason.INTERRUPTED.value());
              assertThat(now.getStatus().getMessage()).contains("Another operator gave up on it");
              assertThat(now.getStatus().getStdout())
                  .isNull(); // not the outcome of this operator's run
            });
    assertThat(runs(cx)).isEqualTo(1);
    assertThat(terminal).containsOnly(CodeExecutionReason.INTERRUPTED.value());
    await().untilAsserted(() -> assertThat(operators.get(0).tracker().pendingOutcomes()).isZero());
  }

  @Test
  void noCodeIsSentForAnExecutionAnotherWriterFinishedBeforeItsSandboxIdWasRecorded() {
    FakeSandboxBackend backend = startOperatorWithProvider(2).reportingSandboxIds();
    backend.beforeRun(
        request -> {
          if (request.name().equals("orphan")) {
            writeAsAnotherOperator(
                "orphan",
                cx -> CodeExecutionStatusCalculator.interrupted(cx, "Taken over", Instant.now()));
          }
        });
    client.resource(anExecution("default", "orphan", "fake")).create();
    client.resource(anExecution("default", "normal", "fake")).create();

    CodeExecution normal = awaitPhase("normal", Phase.SUCCEEDED);
    assertThat(normal.getStatus().getSandbox().getId())
        .startsWith("fake-"); // recorded before the code ran
    assertThat(runs(normal)).isEqualTo(1);
    CodeExecution orphan = awaitPhase("orphan", Phase.FAILED);
    await()
        .during(Duration.ofSeconds(1))
        .untilAsserted(
            () -> assertThat(get("orphan").getStatus().getMessage()).contains("Taken over"));
    assertThat(runs(orphan)).isZero();
  }

  @Test
  void twoOperatorsWithoutLeaderElectionRunEachExecutionOnceAndEndItOnce() {
    for (String name : List.of("a", "b")) {
      SandboxBackendFactory factory =
          new SandboxBackendFactory()
              .register(
                  ProviderType.DOCKER,
                  context ->
                      backends
                          .computeIfAbsent(
                              name,
                              n ->
                                  new FakeSandboxBackend(3, runs, "sbx-" + n + "-")
                                      .behaviour(
                                          request -> {
                                            sleep(20);
                                            return FakeSandboxBackend.succeedWithArguments(request);
                                          }))
                          .builtFrom(context));
      operators.add(new SandboxOperator(client, factory, OperatorConfig.defaults(), null).start());
    }
    List<String> terminal = recordTerminalStatuses();
    client.resource(aDockerProvider("default", "fake")).create();
    int count = 40;
    for (int i = 0; i < count; i++) {
      client.resource(anExecution("default", String.format("x-%02d", i), "fake")).create();
    }

    await()
        .atMost(Duration.ofSeconds(90))
        .pollInterval(Duration.ofMillis(250))
        .until(
            () ->
                client
                        .resources(CodeExecution.class)
                        .inNamespace("default")
                        .list()
                        .getItems()
                        .stream()
                        .filter(cx -> CodeExecutionStatusCalculator.isTerminal(cx.getStatus()))
                        .count()
                    == count);
    await().pollDelay(Duration.ofSeconds(1)).until(() -> true);

    for (CodeExecution cx :
        client.resources(CodeExecution.class).inNamespace("default").list().getItems()) {
      assertThat(runs(cx)).as(cx.getMetadata().getName()).isEqualTo(1);
      assertThat(Conditions.reason(cx.getStatus().getConditions(), ConditionTypes.SUCCEEDED))
          .as(cx.getMetadata().getName())
          .isEqualTo(CodeExecutionReason.COMPLETED.value());
    }
    assertThat(terminal).hasSize(count); // each reached a terminal status once and kept it
    assertThat(backends.get("a").totalRuns())
        .isEqualTo(count); // the shared count over both operators
  }

  private FakeSandboxBackend startOperatorWithProvider(int sandboxes) {
    SandboxBackendFactory factory =
        new SandboxBackendFactory()
            .register(
                ProviderType.DOCKER,
                context ->
                    backends
                        .computeIfAbsent(
                            context.settings().name(),
                            n -> new FakeSandboxBackend(sandboxes, runs, "fake-"))
                        .builtFrom(context));
    operators.add(new SandboxOperator(client, factory, OperatorConfig.defaults(), null).start());
    client.resource(aDockerProvider("default", "fake")).create();
    await().atMost(Duration.ofSeconds(20)).until(() -> backends.containsKey("fake"));
    return backends.get("fake");
  }

  /**
   * Writes a status computed from the current object, as another operator would (PUT on its
   * version).
   */
  private CodeExecutionStatus writeAsAnotherOperator(
      String name, java.util.function.Function<CodeExecution, CodeExecutionStatus> status) {
    CodeExecution current = get(name);
    CodeExecutionStatus written = status.apply(current);
    current.setStatus(written);
    client.resource(current).updateStatus();
    return written;
  }

  /**
   * The Succeeded reason of every change into a terminal status and of every change of a terminal
   * one: one entry per execution means each ended once and was never rewritten.
   */
  private List<String> recordTerminalStatuses() {
    List<String> terminal = new CopyOnWriteArrayList<>();
    Map<String, String> lastTerminal = new ConcurrentHashMap<>();
    watches.add(
        client
            .resources(CodeExecution.class)
            .inNamespace("default")
            .watch(
                new Watcher<>() {
                  @Override
                  public void eventReceived(Action action, CodeExecution cx) {
                    if (action == Action.DELETED
                        || !CodeExecutionStatusCalculator.isTerminal(cx.getStatus())) {
                      return;
                    }
                    String snapshot =
                        Conditions.reason(cx.getStatus().getConditions(), ConditionTypes.SUCCEEDED)
                            + "@"
                            + cx.getStatus().getCompletionTime()
                            + "@"
                            + cx.getStatus().getMessage();
                    String before = lastTerminal.put(cx.getMetadata().getName(), snapshot);
                    if (!snapshot.equals(before)) {
                      terminal.add(
                          Conditions.reason(
                              cx.getStatus().getConditions(), ConditionTypes.SUCCEEDED));
                    }
                  }

                  @Override
                  public void onClose(WatcherException cause) {}
                }));
    return terminal;
  }

  private int runs(CodeExecution cx) {
    AtomicInteger count = runs.get(cx.getMetadata().getUid());
    return count == null ? 0 : count.get();
  }

  private static dev.sandboxes.operator.execution.ExecutionRequest request(CodeExecution cx) {
    return new dev.sandboxes.operator.execution.ExecutionRequest(
        cx.getMetadata().getNamespace(),
        cx.getMetadata().getName(),
        cx.getMetadata().getUid(),
        cx.getSpec().getLanguage(),
        dev.sandboxes.api.v1alpha1.ExecutionMode.FUNCTION,
        "main",
        "",
        com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode(),
        Duration.ofSeconds(10),
        1024);
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private CodeExecution awaitPhase(String name, Phase phase) {
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () -> {
              CodeExecution cx = get(name);
              assertThat(cx.getStatus()).isNotNull();
              assertThat(cx.getStatus().getPhase()).isEqualTo(phase);
            });
    return get(name);
  }

  private CodeExecution get(String name) {
    return client.resources(CodeExecution.class).inNamespace("default").withName(name).get();
  }
}
