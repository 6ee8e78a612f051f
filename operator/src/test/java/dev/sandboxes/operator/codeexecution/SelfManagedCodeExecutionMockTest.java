package dev.sandboxes.operator.codeexecution;

import static dev.sandboxes.operator.testing.TestResources.aSelfManagedProvider;
import static dev.sandboxes.operator.testing.TestResources.anExecution;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.sandboxes.api.ApiConstants;
import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionReason;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.Phase;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.api.v1alpha1.SandboxProviderReason;
import dev.sandboxes.operator.backend.SandboxBackendFactory;
import dev.sandboxes.operator.backend.selfmanaged.ScriptedPodExec;
import dev.sandboxes.operator.backend.selfmanaged.SelfManagedSandboxBackend;
import dev.sandboxes.operator.testing.FakeKubelet;
import dev.sandboxes.operator.testing.OperatorMockTest;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.node.v1.RuntimeClassBuilder;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * CodeExecutions on a SelfManaged SandboxProvider through the whole operator (fabric8 CRUD mock):
 * the real backend creates and claims pods, a FakeKubelet marks them Ready, and the exec runs the
 * real runner locally.
 */
@Tag("mock")
class SelfManagedCodeExecutionMockTest extends OperatorMockTest {

  private final ScriptedPodExec exec = new ScriptedPodExec();
  private FakeKubelet kubelet;

  @BeforeEach
  void start() {
    kubelet = new FakeKubelet(client, NAMESPACE).start();
    SandboxBackendFactory factory =
        new SandboxBackendFactory()
            .register(
                ProviderType.SELF_MANAGED, context -> new SelfManagedSandboxBackend(context, exec));
    startOperator(factory);
  }

  @AfterEach
  void stop() {
    stopOperator();
    kubelet.close();
    exec.killAll();
  }

  @Test
  void executionsRunInFreshPodsOfTheWarmPool() {
    client
        .resource(
            new RuntimeClassBuilder()
                .withNewMetadata()
                .withName("gvisor")
                .endMetadata()
                .withHandler("runsc")
                .build())
        .create();
    client.resource(aSelfManagedProvider(NAMESPACE, "pool", 1)).create();
    await()
        .untilAsserted(
            () -> {
              SandboxProvider provider =
                  client
                      .resources(SandboxProvider.class)
                      .inNamespace(NAMESPACE)
                      .withName("pool")
                      .get();
              assertThat(
                      Conditions.isTrue(provider.getStatus().getConditions(), ConditionTypes.READY))
                  .isTrue();
            });

    client.resource(execution("first")).create();
    client.resource(execution("second")).create();

    CodeExecution first = awaitPhase("first", Phase.SUCCEEDED);
    CodeExecution second = awaitPhase("second", Phase.SUCCEEDED);
    for (CodeExecution cx : List.of(first, second)) {
      assertThat(cx.getStatus().getResult().toString())
          .isEqualTo("1"); // main(x) returns x, run by the real runner
      assertThat(cx.getStatus().getExitCode()).isZero();
      assertThat(cx.getStatus().getSandbox().getType()).isEqualTo(ProviderType.SELF_MANAGED);
      assertThat(cx.getStatus().getSandbox().getId()).startsWith("sbx-pool-py-");
    }
    // One pod per execution, each deleted after its run.
    assertThat(first.getStatus().getSandbox().getId())
        .isNotEqualTo(second.getStatus().getSandbox().getId());
    assertThat(exec.execedPods)
        .containsExactlyInAnyOrder(
            first.getStatus().getSandbox().getId(), second.getStatus().getSandbox().getId());
    await()
        .untilAsserted(
            () -> {
              List<String> names = pods().stream().map(p -> p.getMetadata().getName()).toList();
              assertThat(names)
                  .doesNotContain(
                      first.getStatus().getSandbox().getId(),
                      second.getStatus().getSandbox().getId());
            });
    await()
        .untilAsserted(
            () -> {
              SandboxProvider provider =
                  client
                      .resources(SandboxProvider.class)
                      .inNamespace(NAMESPACE)
                      .withName("pool")
                      .get();
              assertThat(provider.getStatus().getPools())
                  .anySatisfy(
                      pool -> {
                        assertThat(pool.getLanguage().value()).isEqualTo("python");
                        assertThat(pool.getReady()).isEqualTo(1);
                        assertThat(pool.getDesired()).isEqualTo(1);
                      });
            });
  }

  @Test
  void aChangedImageRollsTheIdlePodsAndADeletedProviderTakesItsPodsAlong() {
    client
        .resource(
            new RuntimeClassBuilder()
                .withNewMetadata()
                .withName("gvisor")
                .endMetadata()
                .withHandler("runsc")
                .build())
        .create();
    SandboxProvider provider = aSelfManagedProvider(NAMESPACE, "rolling", 1);
    provider.getSpec().setRuntimes(List.of(runtime("localhost/sandbox-runtime:v1")));
    client.resource(provider).create();
    List<String> first =
        await()
            .until(
                () -> pods().stream().map(p -> p.getMetadata().getName()).toList(),
                names -> names.size() == 1);

    client
        .resources(SandboxProvider.class)
        .inNamespace(NAMESPACE)
        .withName("rolling")
        .edit(
            p -> {
              p.getSpec().setRuntimes(List.of(runtime("localhost/sandbox-runtime:v2")));
              return p;
            });
    await()
        .untilAsserted(
            () -> {
              List<Pod> pods = pods();
              assertThat(pods).hasSize(1);
              assertThat(pods.get(0).getMetadata().getName()).isNotIn(first);
              assertThat(pods.get(0).getSpec().getContainers().get(0).getImage())
                  .isEqualTo("localhost/sandbox-runtime:v2");
            });

    // The mock has no garbage collector: what disappears here, the operator deleted itself.
    client.resources(SandboxProvider.class).inNamespace(NAMESPACE).withName("rolling").delete();
    await().until(() -> pods().isEmpty());
  }

  private static dev.sandboxes.api.v1alpha1.RuntimeSpec runtime(String image) {
    dev.sandboxes.api.v1alpha1.RuntimeSpec runtime = new dev.sandboxes.api.v1alpha1.RuntimeSpec();
    runtime.setLanguage(dev.sandboxes.api.v1alpha1.Language.PYTHON);
    runtime.setImage(image);
    return runtime;
  }

  @Test
  void withoutItsRuntimeClassTheProviderIsNotReadyAndExecutionsWait() throws Exception {
    client.resource(aSelfManagedProvider(NAMESPACE, "no-gvisor", 2)).create();
    client.resource(anExecution(NAMESPACE, "waiting", "no-gvisor")).create();

    await()
        .untilAsserted(
            () -> {
              SandboxProvider provider =
                  client
                      .resources(SandboxProvider.class)
                      .inNamespace(NAMESPACE)
                      .withName("no-gvisor")
                      .get();
              assertThat(
                      Conditions.reason(provider.getStatus().getConditions(), ConditionTypes.READY))
                  .isEqualTo(SandboxProviderReason.RUNTIME_CLASS_NOT_FOUND.value());
            });
    CodeExecution cx =
        await()
            .until(
                () -> get("waiting"),
                c ->
                    c != null
                        && c.getStatus() != null
                        && CodeExecutionReason.PROVIDER_NOT_READY
                            .value()
                            .equals(
                                Conditions.reason(
                                    c.getStatus().getConditions(), ConditionTypes.ACCEPTED)));
    assertThat(cx.getStatus().getPhase()).isEqualTo(Phase.PENDING);
    assertThat(pods()).isEmpty();
  }

  private List<Pod> pods() {
    return client
        .pods()
        .inNamespace(NAMESPACE)
        .withLabel(ApiConstants.MANAGED_BY_LABEL, ApiConstants.MANAGED_BY_VALUE)
        .list()
        .getItems();
  }

  /**
   * An execution with a generous time limit: the real runner starts Python on this machine, which
   * takes seconds when other builds keep it busy, and no test here is about the limit.
   */
  private static CodeExecution execution(String name) {
    CodeExecution cx = anExecution(NAMESPACE, name, "pool");
    cx.getSpec().setTimeoutSeconds(120);
    return cx;
  }
}
