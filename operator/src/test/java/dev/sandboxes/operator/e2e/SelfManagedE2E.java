package dev.sandboxes.operator.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.sandboxes.api.ApiConstants;
import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionReason;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.ExecutionMode;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.Phase;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.api.v1alpha1.SandboxProviderReason;
import dev.sandboxes.operator.SandboxOperator;
import dev.sandboxes.operator.testing.TestResources;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The SelfManaged provider on a real cluster: real pods from a warm pool, real exec, the hostile
 * code of the core issue, a pod deleted under a run, garbage collection, and an operator that dies
 * in the middle of a burst.
 *
 * <p>On the local cluster the RuntimeClass {@code gvisor} runs real gVisor (Debian's runsc behind
 * containerd's runc shim, hack/gvisor/runsc-k8s) with loopback only, and NetworkPolicy is not
 * enforced there; the tests assert what the operator creates, not what a CNI enforces.
 */
@Tag("e2e")
class SelfManagedE2E {

  private static final String POOL = "pool";
  private static E2eCluster cluster;

  @BeforeAll
  static void start() {
    cluster = E2eCluster.open("selfmanaged");
    cluster.startOperator();
    cluster.create(TestResources.asDefault(provider(POOL, "gvisor", 2)));
    cluster.awaitReady(POOL);
  }

  @AfterAll
  static void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  static SandboxProvider provider(String name, String runtimeClass, int poolSize) {
    return providerIn(cluster, name, runtimeClass, poolSize);
  }

  /**
   * The test's SelfManaged provider (python and javascript, small pods) for another test's cluster.
   */
  static SandboxProvider providerIn(
      E2eCluster cluster, String name, String runtimeClass, int poolSize) {
    return cluster
        .client()
        .getKubernetesSerialization()
        .unmarshal(
            """
        apiVersion: sandboxes.dev/v1alpha1
        kind: SandboxProvider
        metadata:
          name: %s
        spec:
          type: SelfManaged
          runtimes:
            - language: python
            - language: javascript
          selfManaged:
            runtimeClassName: %s
            poolSize: %d
            resources: {cpu: "500m", memory: 256Mi, ephemeralStorage: 64Mi}
          limits:
            maxOutputBytes: 4096
        """
                .formatted(name, runtimeClass, poolSize),
            SandboxProvider.class);
  }

  private static CodeExecution script(String name, String code, int timeoutSeconds) {
    CodeExecution cx = TestResources.anExecution(cluster.namespace(), name, null);
    cx.getSpec().setMode(ExecutionMode.SCRIPT);
    cx.getSpec().setCode(code);
    cx.getSpec().setArguments(null);
    cx.getSpec().setTimeoutSeconds(timeoutSeconds);
    return cx;
  }

  private static String reason(CodeExecution cx) {
    return Conditions.reason(cx.getStatus().getConditions(), ConditionTypes.SUCCEEDED);
  }

  private static void assertPodGone(CodeExecution cx) {
    String pod = cx.getStatus().getSandbox().getId();
    await("sandbox pod " + pod + " deleted")
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                cluster.client().pods().inNamespace(cluster.namespace()).withName(pod).get()
                    == null);
  }

  private static List<Pod> poolPods(String provider) {
    return cluster
        .client()
        .pods()
        .inNamespace(cluster.namespace())
        .withLabel(ApiConstants.PROVIDER_LABEL, provider)
        .list()
        .getItems();
  }

  @Test
  void poolPodsAreHardenedOwnedAndFenced() {
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () ->
                poolPods(POOL).stream()
                        .filter(p -> "Running".equals(p.getStatus().getPhase()))
                        .count()
                    >= 4);
    SandboxProvider provider = cluster.provider(POOL);
    for (Pod pod : poolPods(POOL)) {
      var spec = pod.getSpec();
      assertThat(spec.getRuntimeClassName()).isEqualTo("gvisor");
      assertThat(spec.getAutomountServiceAccountToken()).isFalse();
      assertThat(spec.getEnableServiceLinks()).isFalse();
      assertThat(spec.getSecurityContext().getRunAsNonRoot()).isTrue();
      assertThat(spec.getSecurityContext().getSeccompProfile().getType())
          .isEqualTo("RuntimeDefault");
      var container = spec.getContainers().get(0);
      assertThat(container.getSecurityContext().getReadOnlyRootFilesystem()).isTrue();
      assertThat(container.getSecurityContext().getAllowPrivilegeEscalation()).isFalse();
      assertThat(container.getSecurityContext().getCapabilities().getDrop()).containsExactly("ALL");
      assertThat(container.getResources().getLimits())
          .containsKeys("cpu", "memory", "ephemeral-storage");
      assertThat(pod.getMetadata().getOwnerReferences())
          .anySatisfy(o -> assertThat(o.getUid()).isEqualTo(provider.getMetadata().getUid()));
    }
    List<NetworkPolicy> policies =
        cluster
            .client()
            .network()
            .v1()
            .networkPolicies()
            .inNamespace(cluster.namespace())
            .list()
            .getItems();
    assertThat(policies)
        .anySatisfy(
            policy -> {
              assertThat(policy.getSpec().getPolicyTypes())
                  .containsExactlyInAnyOrder("Ingress", "Egress");
              assertThat(policy.getSpec().getIngress()).isNullOrEmpty();
              assertThat(policy.getSpec().getEgress()).isNullOrEmpty();
              assertThat(policy.getMetadata().getOwnerReferences())
                  .anySatisfy(
                      o -> assertThat(o.getUid()).isEqualTo(provider.getMetadata().getUid()));
            });
    assertThat(provider.getStatus().getPools()).hasSize(2);
  }

  @Test
  void pythonAndJavaScriptRunInFreshPodsThatAreDeletedAfterwards() {
    CodeExecution python = TestResources.anExecution(cluster.namespace(), "sm-python", null);
    python.getSpec().setCode("import os\ndef main(x):\n    return {'x': x, 'uid': os.getuid()}\n");
    cluster.create(python);
    CodeExecution js = TestResources.anExecution(cluster.namespace(), "sm-js", null);
    js.getSpec().setLanguage(Language.JAVASCRIPT);
    js.getSpec().setCode("module.exports = { main: async (a) => a.x + 1 };\n");
    cluster.create(js);

    CodeExecution py = cluster.awaitTerminal("sm-python");
    assertThat(py.getStatus().getPhase())
        .as(py.getStatus().getMessage())
        .isEqualTo(Phase.SUCCEEDED);
    assertThat(py.getStatus().getResult().get("x").asInt()).isEqualTo(1);
    assertThat(py.getStatus().getResult().get("uid").asInt()).isNotZero();
    CodeExecution javascript = cluster.awaitTerminal("sm-js");
    assertThat(javascript.getStatus().getPhase())
        .as(javascript.getStatus().getMessage())
        .isEqualTo(Phase.SUCCEEDED);
    assertThat(javascript.getStatus().getResult().asInt()).isEqualTo(2);
    assertThat(py.getStatus().getSandbox().getId())
        .isNotEqualTo(javascript.getStatus().getSandbox().getId());
    assertPodGone(py);
    assertPodGone(javascript);
  }

  @Test
  void aFileLeftBehindNeverReachesTheNextExecution() {
    cluster.create(
        script(
            "leaves-file", "open('/tmp/left-behind', 'w').write('secret')\nprint('written')", 10));
    CodeExecution first = cluster.awaitTerminal("leaves-file");
    assertThat(first.getStatus().getStdout()).isEqualTo("written\n");
    cluster.create(
        script(
            "looks-for-file",
            "import os\nprint(os.path.exists('/tmp/left-behind'), sorted(os.listdir('/tmp')))",
            10));
    CodeExecution second = cluster.awaitTerminal("looks-for-file");
    assertThat(second.getStatus().getPhase()).isEqualTo(Phase.SUCCEEDED);
    assertThat(second.getStatus().getStdout()).startsWith("False");
    assertThat(second.getStatus().getSandbox().getId())
        .isNotEqualTo(first.getStatus().getSandbox().getId());
  }

  @Test
  void anInfiniteLoopTimesOutAndItsPodIsDeleted() {
    cluster.create(script("loop", "while True:\n    pass", 3));
    CodeExecution cx = cluster.awaitTerminal("loop");
    assertThat(reason(cx)).isEqualTo(CodeExecutionReason.TIMED_OUT.value());
    assertPodGone(cx);
  }

  @Test
  void theCodeRunsOnGvisorsKernelWithLoopbackOnly() {
    cluster.create(
        script(
            "kernel",
            "import platform\n"
                + "print(platform.release(), [l.split(':')[0].strip() for l in open('/proc/net/dev').read().splitlines()[2:]])\n"
                + "print(open('/proc/version').read())",
            10));
    CodeExecution cx = cluster.awaitTerminal("kernel");
    assertThat(cx.getStatus().getPhase())
        .as(cx.getStatus().getMessage())
        .isEqualTo(Phase.SUCCEEDED);
    // gVisor reports its own kernel (release 4.4.0), not the node's; its sandboxes here have no
    // network but loopback (the local cluster's runsc runs with --network=none).
    assertThat(cx.getStatus().getStdout()).startsWith("4.4.0 ['lo']\n");
    assertThat(cx.getStatus().getStdout()).doesNotContain(System.getProperty("os.version"));
  }

  /**
   * Under gVisor the memory cgroup kills the whole sandbox, not one process. The pod must still be
   * reported as OutOfMemory (the kubelet says OOMKilled once the sandbox is gone) and deleted,
   * never left Terminating.
   */
  @Test
  void aMemoryBombIsOutOfMemory() {
    cluster.create(
        script(
            "memory-bomb",
            "blocks = []\nwhile True:\n    blocks.append(bytearray(16 * 1024 * 1024))",
            20));
    CodeExecution cx = cluster.awaitTerminal("memory-bomb");
    assertThat(cx.getStatus().getPhase()).isEqualTo(Phase.FAILED);
    assertThat(reason(cx))
        .as(cx.getStatus().getMessage())
        .isEqualTo(CodeExecutionReason.OUT_OF_MEMORY.value());
    assertThat(cx.getStatus().getMessage()).contains("memory limit");
    assertPodGone(cx);
  }

  /**
   * Under gVisor every process of the sandbox costs host memory (ptrace platform: a stub process
   * per address space), so a fork bomb exhausts the pod's memory before anything else: the sandbox
   * dies of its memory limit, within the deadline, and the pool goes on.
   */
  @Test
  void aForkBombIsContainedAndThePoolRecovers() {
    cluster.create(script("fork-bomb", "import os\nwhile True:\n    os.fork()", 10));
    CodeExecution cx = cluster.awaitTerminal("fork-bomb", Duration.ofMinutes(2));
    assertThat(cx.getStatus().getPhase()).isEqualTo(Phase.FAILED);
    assertThat(reason(cx))
        .as(cx.getStatus().getMessage())
        .isIn(CodeExecutionReason.OUT_OF_MEMORY.value(), CodeExecutionReason.TIMED_OUT.value());
    assertThat(cx.getStatus().getDurationMillis())
        .as("ended within its deadline")
        .isLessThan(10_000L + 5_000L);
    assertPodGone(cx);
    cluster.create(script("after-fork-bomb", "print('fine')", 10));
    assertThat(cluster.awaitTerminal("after-fork-bomb").getStatus().getStdout())
        .isEqualTo("fine\n");
  }

  @Test
  void anOutputFloodIsCappedAndCounted() {
    cluster.create(
        script(
            "flood",
            "import sys\nchunk = 'x' * 65536\nfor _ in range(1600):\n    sys.stdout.write(chunk)",
            60));
    CodeExecution cx = cluster.awaitTerminal("flood", Duration.ofMinutes(2));
    assertThat(cx.getStatus().getPhase())
        .as(cx.getStatus().getMessage())
        .isEqualTo(Phase.SUCCEEDED);
    assertThat(cx.getStatus().getStdoutBytes()).isEqualTo(1600L * 65536);
    assertThat(cx.getStatus().getStdoutTruncated()).isTrue();
    assertThat(cx.getStatus().getStdout()).hasSize(4096);
  }

  @Test
  void aPodDeletedMidRunFailsTheExecutionWithTheReason() {
    cluster.create(script("pod-deleted", "import time\ntime.sleep(60)", 120));
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () -> {
              CodeExecution cx = cluster.execution("pod-deleted");
              return cx.getStatus() != null
                  && cx.getStatus().getStartTime() != null
                  && cx.getStatus().getSandbox() != null
                  && cx.getStatus().getSandbox().getId() != null;
            });
    String pod = cluster.execution("pod-deleted").getStatus().getSandbox().getId();
    cluster.client().pods().inNamespace(cluster.namespace()).withName(pod).delete();
    CodeExecution cx = cluster.awaitTerminal("pod-deleted");
    assertThat(reason(cx)).isEqualTo(CodeExecutionReason.SANDBOX_FAILED.value());
    assertThat(cx.getStatus().getMessage()).contains(pod).contains("deleted");
  }

  @Test
  void aMissingRuntimeClassIsNotReadyAndCreatesNoPod() {
    cluster.create(provider("no-runtime-class", E2eCluster.UNINSTALLED_RUNTIME_CLASS, 2));
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () -> {
              SandboxProvider provider = cluster.provider("no-runtime-class");
              return provider.getStatus() != null
                  && SandboxProviderReason.RUNTIME_CLASS_NOT_FOUND
                      .value()
                      .equals(
                          Conditions.reason(
                              provider.getStatus().getConditions(), ConditionTypes.READY));
            });
    assertThat(
            Conditions.get(
                    cluster.provider("no-runtime-class").getStatus().getConditions(),
                    ConditionTypes.READY)
                .orElseThrow()
                .getMessage())
        .contains(E2eCluster.UNINSTALLED_RUNTIME_CLASS);
    assertThat(poolPods("no-runtime-class")).isEmpty();
  }

  @Test
  void deletingTheProviderRemovesItsPodsAndPolicy() {
    cluster.create(provider("short-lived", "gvisor", 1));
    cluster.awaitReady("short-lived");
    await().atMost(Duration.ofSeconds(60)).until(() -> poolPods("short-lived").size() >= 2);
    String uid = cluster.provider("short-lived").getMetadata().getUid();
    cluster
        .client()
        .resources(SandboxProvider.class)
        .inNamespace(cluster.namespace())
        .withName("short-lived")
        .delete();
    await("pods of the deleted provider gone")
        .atMost(Duration.ofSeconds(60))
        .until(() -> poolPods("short-lived").isEmpty());
    await("its NetworkPolicy gone")
        .atMost(Duration.ofSeconds(60))
        .until(
            () ->
                cluster
                    .client()
                    .network()
                    .v1()
                    .networkPolicies()
                    .inNamespace(cluster.namespace())
                    .list()
                    .getItems()
                    .stream()
                    .noneMatch(
                        p ->
                            p.getMetadata().getOwnerReferences().stream()
                                .anyMatch(o -> uid.equals(o.getUid()))));
  }

  /**
   * An operator dies (its connection to the API server cut, its runs abandoned) while a burst runs;
   * a new one takes over. Every execution reaches a terminal phase and none runs twice: an
   * execution's sandbox never changes once recorded.
   */
  @Test
  void anOperatorKilledMidBurstLosesNothingAndRunsNothingTwice() {
    try (E2eCluster burst = E2eCluster.open("selfmanaged-crash")) {
      KubernetesClient doomedClient = E2eCluster.connect();
      SandboxOperator doomed = burst.startOperator(doomedClient, burst.operatorConfig(), null);
      burst.create(TestResources.asDefault(provider("crash-pool", "gvisor", 3)));
      burst.awaitReady("crash-pool");

      Map<String, Set<String>> sandboxes = new ConcurrentHashMap<>();
      Watch watch =
          burst
              .client()
              .resources(CodeExecution.class)
              .inNamespace(burst.namespace())
              .watch(
                  new Watcher<>() {
                    @Override
                    public void eventReceived(Action action, CodeExecution cx) {
                      if (cx.getStatus() != null
                          && cx.getStatus().getSandbox() != null
                          && cx.getStatus().getSandbox().getId() != null) {
                        sandboxes
                            .computeIfAbsent(
                                cx.getMetadata().getName(), n -> ConcurrentHashMap.newKeySet())
                            .add(cx.getStatus().getSandbox().getId());
                      }
                    }

                    @Override
                    public void onClose(WatcherException cause) {}
                  });
      try {
        int count = 12;
        for (int i = 0; i < count; i++) {
          CodeExecution cx = TestResources.anExecution(burst.namespace(), "burst-" + i, null);
          cx.getSpec().setCode("import time\ndef main(x):\n    time.sleep(2)\n    return x\n");
          cx.getSpec().setArguments(Map.of("x", i));
          burst.create(cx);
        }
        await("some executions started")
            .atMost(Duration.ofSeconds(60))
            .until(() -> sandboxes.size() >= 3);

        // The crash: watches, exec streams and status writes die with the operator's clients.
        doomedClient.close();
        doomed.closeOwnClientAbruptly();
        doomed.operator().stop();
        burst.startOperator();

        for (int i = 0; i < count; i++) {
          CodeExecution cx = burst.awaitTerminal("burst-" + i, Duration.ofMinutes(3));
          assertThat(cx.getStatus().getPhase()).isIn(Phase.SUCCEEDED, Phase.FAILED);
          if (cx.getStatus().getPhase() == Phase.SUCCEEDED) {
            assertThat(cx.getStatus().getResult().asInt()).isEqualTo(i);
          } else {
            assertThat(reason(cx))
                .as(cx.getStatus().getMessage())
                .isEqualTo(CodeExecutionReason.INTERRUPTED.value());
          }
        }
        assertThat(sandboxes.values()).allSatisfy(ids -> assertThat(ids).hasSize(1));
        // Every pod an execution recorded is gone, the interrupted ones' too. (A pod the dead
        // operator claimed in memory only still says idle: the new operator deletes it as a
        // leftover.)
        Set<String> recorded = ConcurrentHashMap.newKeySet();
        sandboxes.values().forEach(recorded::addAll);
        await("no recorded sandbox pod left behind")
            .atMost(Duration.ofSeconds(60))
            .until(
                () ->
                    burst.client().pods().inNamespace(burst.namespace()).list().getItems().stream()
                        .noneMatch(p -> recorded.contains(p.getMetadata().getName())));
      } finally {
        watch.close();
      }
    }
  }
}
