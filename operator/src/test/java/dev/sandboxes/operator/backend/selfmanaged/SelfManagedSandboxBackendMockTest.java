package dev.sandboxes.operator.backend.selfmanaged;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sandboxes.api.ApiConstants;
import dev.sandboxes.api.v1alpha1.EgressPolicy;
import dev.sandboxes.api.v1alpha1.EgressSpec;
import dev.sandboxes.api.v1alpha1.ExecutionMode;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.PoolStatus;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.api.v1alpha1.RuntimeSpec;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.api.v1alpha1.SandboxProviderReason;
import dev.sandboxes.api.v1alpha1.SandboxProviderSpec;
import dev.sandboxes.api.v1alpha1.SandboxResources;
import dev.sandboxes.api.v1alpha1.SelfManagedSpec;
import dev.sandboxes.operator.backend.ProbeResult;
import dev.sandboxes.operator.backend.RunControl;
import dev.sandboxes.operator.backend.SandboxLease;
import dev.sandboxes.operator.config.IsolationPolicy;
import dev.sandboxes.operator.config.OperatorConfig;
import dev.sandboxes.operator.execution.ExecutionOutcome;
import dev.sandboxes.operator.execution.ExecutionRequest;
import dev.sandboxes.operator.execution.Termination;
import dev.sandboxes.operator.provider.BackendContext;
import dev.sandboxes.operator.provider.ProviderSettings;
import dev.sandboxes.operator.provider.ServiceCallListener;
import dev.sandboxes.operator.testing.FakeKubelet;
import dev.sandboxes.operator.testing.LocalRunner;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.node.v1.RuntimeClassBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The SelfManaged backend on fabric8's CRUD mock server: pods, policy and claims are real API
 * objects; a FakeKubelet writes pod statuses and a ScriptedPodExec stands in for pods/exec (by
 * default running the real runner locally).
 */
@Tag("mock")
@EnableKubernetesMockClient(crud = true)
class SelfManagedSandboxBackendMockTest {

  private static final String NS = "team-a";

  /**
   * The time limit of runs whose subject is not the limit: generous, because on a machine that
   * other builds keep busy even a trivial Python program can take seconds to start.
   */
  private static final int UNTIMED = 120;

  private static final ObjectMapper JSON = new ObjectMapper();

  KubernetesClient client;
  KubernetesMockServer server;

  private final List<SelfManagedSandboxBackend> backends = new ArrayList<>();
  private final List<KubernetesClient> otherClients = new ArrayList<>();
  private final ScriptedPodExec exec = new ScriptedPodExec();
  private final AtomicInteger capacitySignals = new AtomicInteger();
  private FakeKubelet kubelet;

  /**
   * How long a run that ended like a dead sandbox waits for its pod to say so. The fake kubelet
   * says so at once or never, so the tests do not wait out production's 45 s, except the one about
   * a slow kubelet.
   */
  private Duration sandboxDeathSettleWait = Duration.ofSeconds(5);

  @AfterEach
  void tearDown() {
    backends.forEach(SelfManagedSandboxBackend::close);
    otherClients.forEach(KubernetesClient::close);
    exec.killAll();
    if (kubelet != null) {
      kubelet.close();
    }
    // Closing the client ends informer watches now; the mock server's shutdown otherwise waits
    // for them and fails the test with "Unable to close MockWebServer" on a loaded machine.
    client.close();
    try {
      server.destroy();
    } catch (IllegalStateException e) {
      // Its event loop, stalled by a loaded machine, did not confirm the close within the mock's
      // own 10 s: the server is shut down all the same (the extension's second destroy is a no-op),
      // and what the test checked is unaffected.
      if (!"Unable to close MockWebServer".equals(e.getMessage())) {
        throw e;
      }
    }
  }

  // ---- pool and hardening ----

  @Test
  void fillsThePoolWithHardenedPodsOfEveryRuntime() {
    SelfManagedSandboxBackend backend = readyBackend(provider("pool", 2));

    List<Pod> pods = awaitPods(this::pods, 4);
    assertThat(pods)
        .extracting(p -> p.getMetadata().getLabels().get(ApiConstants.LANGUAGE_LABEL))
        .containsExactlyInAnyOrder("python", "python", "javascript", "javascript");
    String uid = providerUid("pool");
    for (Pod pod : pods) {
      Map<String, String> labels = pod.getMetadata().getLabels();
      assertThat(labels)
          .containsEntry(ApiConstants.PROVIDER_LABEL, "pool")
          .containsEntry(ApiConstants.PROVIDER_UID_LABEL, uid)
          .containsEntry(ApiConstants.STATE_LABEL, "idle")
          .containsEntry("app.kubernetes.io/managed-by", "sandbox-operator")
          .containsKey(SandboxPodTemplate.TEMPLATE_HASH_LABEL);
      assertThat(pod.getMetadata().getOwnerReferences())
          .singleElement()
          .satisfies(
              owner -> {
                assertThat(owner.getKind()).isEqualTo("SandboxProvider");
                assertThat(owner.getUid()).isEqualTo(uid);
                assertThat(owner.getController()).isTrue();
              });
      PodSpec spec = pod.getSpec();
      assertThat(spec.getRuntimeClassName()).isEqualTo("gvisor");
      assertThat(spec.getAutomountServiceAccountToken()).isFalse();
      assertThat(spec.getEnableServiceLinks()).isFalse();
      assertThat(spec.getRestartPolicy()).isEqualTo("Never");
      assertThat(spec.getTerminationGracePeriodSeconds()).isZero();
      assertThat(spec.getSecurityContext().getRunAsNonRoot()).isTrue();
      assertThat(spec.getSecurityContext().getRunAsUser()).isEqualTo(1000L);
      assertThat(spec.getSecurityContext().getSeccompProfile().getType())
          .isEqualTo("RuntimeDefault");
      Container container = spec.getContainers().get(0);
      assertThat(container.getImage()).isEqualTo("localhost/sandbox-runtime:v1");
      assertThat(container.getCommand()).containsExactly("sleep", "infinity");
      assertThat(container.getSecurityContext().getReadOnlyRootFilesystem()).isTrue();
      assertThat(container.getSecurityContext().getAllowPrivilegeEscalation()).isFalse();
      assertThat(container.getSecurityContext().getCapabilities().getDrop()).containsExactly("ALL");
      assertThat(container.getSecurityContext().getRunAsNonRoot()).isTrue();
      assertThat(container.getResources().getLimits())
          .containsKeys("cpu", "memory", "ephemeral-storage");
      assertThat(container.getResources().getLimits().get("memory").toString()).isEqualTo("256Mi");
      // Memory and storage requested in full; CPU only a little, so warm pods don't fill a node.
      assertThat(container.getResources().getRequests().get("memory"))
          .isEqualTo(container.getResources().getLimits().get("memory"));
      assertThat(container.getResources().getRequests().get("ephemeral-storage"))
          .isEqualTo(container.getResources().getLimits().get("ephemeral-storage"));
      assertThat(container.getResources().getLimits().get("cpu").toString()).isEqualTo("1");
      assertThat(container.getResources().getRequests().get("cpu").toString()).isEqualTo("100m");
      assertThat(container.getVolumeMounts())
          .singleElement()
          .satisfies(m -> assertThat(m.getMountPath()).isEqualTo("/tmp"));
      assertThat(spec.getVolumes())
          .singleElement()
          .satisfies(v -> assertThat(v.getEmptyDir().getSizeLimit().toString()).isEqualTo("64Mi"));
    }
    assertThat(backend.pools()).extracting(PoolStatus::getDesired).containsOnly(2);
  }

  @Test
  void resourcesSchedulingAndImageComeFromTheSpec() {
    SandboxProvider provider = provider("sized", 1);
    SelfManagedSpec selfManaged = provider.getSpec().getSelfManaged();
    selfManaged.setRuntimeClassName("kata");
    SandboxResources resources = new SandboxResources();
    resources.setCpu("500m");
    resources.setMemory("512Mi");
    resources.setEphemeralStorage("128Mi");
    selfManaged.setResources(resources);
    selfManaged.setNodeSelector(Map.of("sandbox", "true"));
    selfManaged.setTolerations(
        List.of(
            new io.fabric8.kubernetes.api.model.TolerationBuilder()
                .withKey("sandbox")
                .withOperator("Exists")
                .withEffect("NoSchedule")
                .build()));
    provider.getSpec().setRuntimes(List.of(runtime(Language.PYTHON, "registry.example/python:3")));
    runtimeClass("kata");
    readyBackend(provider);

    Pod pod = awaitPods(this::pods, 1).get(0);
    assertThat(pod.getSpec().getRuntimeClassName()).isEqualTo("kata");
    assertThat(pod.getSpec().getNodeSelector()).containsEntry("sandbox", "true");
    assertThat(pod.getSpec().getTolerations())
        .singleElement()
        .satisfies(t -> assertThat(t.getKey()).isEqualTo("sandbox"));
    Container container = pod.getSpec().getContainers().get(0);
    assertThat(container.getImage()).isEqualTo("registry.example/python:3");
    assertThat(container.getResources().getLimits().get("cpu").toString()).isEqualTo("500m");
    assertThat(container.getResources().getLimits().get("memory").toString()).isEqualTo("512Mi");
    assertThat(pod.getSpec().getVolumes().get(0).getEmptyDir().getSizeLimit().toString())
        .isEqualTo("128Mi");
  }

  @Test
  void aReadyProbeCreatesNoPodUntilTheBackendIsStarted() {
    runtimeClass("gvisor");
    SelfManagedSandboxBackend backend = backend(provider("probed", 2));

    assertThat(backend.probe().ready()).isTrue();
    assertThat(backend.tryAcquire(Language.PYTHON)).isEmpty();
    await()
        .during(Duration.ofMillis(500))
        .atMost(Duration.ofSeconds(30))
        .until(() -> pods().isEmpty());

    backend.start();
    awaitPods(this::pods, 4);
  }

  @Test
  void aMissingRuntimeClassMakesTheProviderNotReadyAndCreatesNoPod() {
    SelfManagedSandboxBackend backend = backend(provider("no-rc", 2));

    ProbeResult probe = backend.startIfReady(backend.probe());
    assertThat(probe.ready()).isFalse();
    assertThat(probe.reason()).isEqualTo(SandboxProviderReason.RUNTIME_CLASS_NOT_FOUND);
    assertThat(probe.message()).contains("RuntimeClass gvisor").contains("does not exist");
    assertThat(backend.tryAcquire(Language.PYTHON)).isEmpty();
    await()
        .during(Duration.ofMillis(500))
        .atMost(Duration.ofSeconds(30))
        .until(() -> pods().isEmpty());

    runtimeClass("gvisor");
    assertThat(backend.startIfReady(backend.probe()).ready()).isTrue();
    awaitPods(this::pods, 4);
  }

  @Test
  void aRuntimeClassWhoseHandlerThePolicyDoesNotAllowCreatesNoPod() throws Exception {
    // Named gvisor, but run by plain runc: the name alone must not pass for gVisor.
    client
        .resource(
            new RuntimeClassBuilder()
                .withNewMetadata()
                .withName("gvisor")
                .endMetadata()
                .withHandler("runc")
                .build())
        .create();
    SelfManagedSandboxBackend backend = backend(provider("fake-gvisor", 1));

    ProbeResult probe = backend.startIfReady(backend.probe());
    assertThat(probe.ready()).isFalse();
    assertThat(probe.reason()).isEqualTo(SandboxProviderReason.POLICY_VIOLATION);
    assertThat(probe.message())
        .contains("RuntimeClass gvisor")
        .contains("spec.selfManaged.runtimeClassName")
        .contains("handler runc")
        .contains("allowed handlers: runsc");
    assertThat(backend.tryAcquire(Language.PYTHON)).isEmpty();
    Thread.sleep(500);
    assertThat(pods()).isEmpty();
  }

  @Test
  void aHandlerTheClustersOperatorAllowsIsAccepted() {
    client
        .resource(
            new RuntimeClassBuilder()
                .withNewMetadata()
                .withName("gvisor")
                .endMetadata()
                .withHandler("runc")
                .build())
        .create();
    OperatorConfig config =
        OperatorConfig.defaults()
            .withIsolationPolicy(
                IsolationPolicy.defaults().alsoAllowing(Set.of(), Set.of(), Set.of("runc")));
    SelfManagedSandboxBackend backend = backend(provider("runc-allowed", 1), client, config);
    assertThat(backend.startIfReady(backend.probe()).ready()).isTrue();
    await().until(() -> pods().size() == 2);
  }

  @Test
  void anImagePullFailureIsAPreciseNotReadyReasonNotAHang() {
    SandboxProvider provider = provider("bad-image", 1);
    provider.getSpec().setRuntimes(List.of(runtime(Language.PYTHON, "localhost/no-such-image:v9")));
    SelfManagedSandboxBackend backend = readyBackend(provider);
    Pod pod = awaitPods(this::pods, 1).get(0);
    kubelet()
        .markWaiting(
            pod.getMetadata().getName(),
            "ImagePullBackOff",
            "Back-off pulling image \"localhost/no-such-image:v9\"");

    await()
        .untilAsserted(
            () -> {
              ProbeResult probe = backend.startIfReady(backend.probe());
              assertThat(probe.ready()).isFalse();
              assertThat(probe.reason()).isEqualTo(SandboxProviderReason.IMAGE_PULL_FAILED);
              assertThat(probe.message())
                  .contains("localhost/no-such-image:v9")
                  .contains("python")
                  .contains("ImagePullBackOff");
            });
    // The stuck pod fills the pool's slot: no pod storm while it cannot pull.
    assertThat(pods()).hasSize(1);
  }

  @Test
  void aPodThatStopsBeforeUseIsReplacedAndReported() {
    SelfManagedSandboxBackend backend = readyBackend(provider("crashing", 1));
    Pod pod = awaitPods(this::pods, 2).get(0);
    kubelet().markTerminated(pod.getMetadata().getName(), "Error", 127);

    await()
        .untilAsserted(
            () -> {
              ProbeResult probe = backend.startIfReady(backend.probe());
              assertThat(probe.reason()).isEqualTo(SandboxProviderReason.SANDBOX_START_FAILING);
              assertThat(probe.message())
                  .contains(pod.getMetadata().getName())
                  .contains("exited with code 127");
            });
    assertThat(backend.startFailure())
        .hasValueSatisfying(f -> assertThat(f.error()).contains("exited with code 127"));
    await()
        .until(
            () ->
                client.pods().inNamespace(NS).withName(pod.getMetadata().getName()).get() == null);
  }

  // ---- claims ----

  @Test
  void aClaimTakesAReadyIdlePodAndAReplacementFollows() {
    SelfManagedSandboxBackend backend = readyBackend(provider("claims", 2));
    List<Pod> pods = awaitPods(this::pythonPods, 2);
    assertThat(backend.tryAcquire(Language.PYTHON)).as("no pod is Ready yet").isEmpty();

    pods.forEach(p -> kubelet().markReady(p.getMetadata().getName()));
    await().until(() -> capacitySignals.get() >= 2);
    SandboxLease lease =
        await().until(() -> backend.tryAcquire(Language.PYTHON), Optional::isPresent).get();

    // Taken in this process's memory only: nothing is written to the API server while the caller
    // stores Started (the claim is recorded once code is sent).
    await()
        .during(Duration.ofMillis(500))
        .atMost(Duration.ofSeconds(30))
        .until(() -> "idle".equals(state(lease.sandboxId())));
    // Refilled ahead of demand: at once for the last idle pod, else (one idle pod is left here)
    // once
    // the claimed pod is released or REPLACEMENT_DELAY after the claim.
    awaitPods(this::pythonPods, 3);
    await()
        .untilAsserted(
            () ->
                assertThat(pool(backend, Language.PYTHON))
                    .satisfies(
                        p -> {
                          assertThat(p.getReady()).isEqualTo(1);
                          assertThat(p.getClaimed()).isEqualTo(1);
                          assertThat(p.getDesired()).isEqualTo(2);
                        }));

    // Unused: given back in memory, claimable again; with the replacement the pool now holds one
    // idle pod more than its size, which the shrink may delete. Either way nothing holds it.
    lease.release();
    await().untilAsserted(() -> assertThat(pool(backend, Language.PYTHON).getClaimed()).isZero());
    String released = state(lease.sandboxId());
    assertThat(released).isIn("idle", null);
  }

  @Test
  void concurrentClaimsFromTwoBackendsNeverShareAPod() throws Exception {
    SandboxProvider provider = provider("race", 5);
    provider.getSpec().setRuntimes(List.of(runtime(Language.PYTHON, null)));
    kubelet().start();
    // Two backends of the same provider at once (two replicas, or an old and a new backend): each
    // on its own client, as another process would have, and each claiming only the pods it made.
    KubernetesClient otherClient =
        new io.fabric8.kubernetes.client.KubernetesClientBuilder()
            .withConfig(client.getConfiguration())
            .build();
    otherClients.add(otherClient);
    runtimeClass("gvisor");
    SelfManagedSandboxBackend first = backend(provider);
    SelfManagedSandboxBackend second = backend(provider, otherClient);
    assertThat(first.startIfReady(first.probe()).ready()).isTrue();
    assertThat(second.startIfReady(second.probe()).ready()).isTrue();
    await().until(() -> ready(first) == 5 && ready(second) == 5);
    assertThat(pythonPods()).hasSize(10);

    // Note: under this burst the CRUD mock server itself sometimes stalls its event loop for its
    // 30 s write timeout (a mock limitation; the test still passes, only slower).
    ExecutorService threads = Executors.newFixedThreadPool(20);
    CountDownLatch go = new CountDownLatch(1);
    Map<String, SelfManagedSandboxBackend> claims = new java.util.concurrent.ConcurrentHashMap<>();
    ConcurrentLinkedQueue<String> all = new ConcurrentLinkedQueue<>();
    List<Future<?>> futures = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      SelfManagedSandboxBackend backend = i % 2 == 0 ? first : second;
      futures.add(
          threads.submit(
              () -> {
                go.await();
                backend
                    .tryAcquire(Language.PYTHON)
                    .ifPresent(
                        lease -> {
                          all.add(lease.sandboxId());
                          claims.put(lease.sandboxId(), backend);
                        });
                return null;
              }));
    }
    go.countDown();
    for (Future<?> future : futures) {
      future.get(30, TimeUnit.SECONDS);
    }
    threads.shutdown();

    assertThat(all).doesNotHaveDuplicates().isNotEmpty().hasSizeLessThanOrEqualTo(10);
    // Each backend handed out only pods it created itself.
    claims.forEach(
        (name, backend) ->
            assertThat(backend.pool().stillCreatedHere(name)).as("%s is its own", name).isTrue());
  }

  @Test
  void aLookAlikePodWithCopiedLabelsAndOwnerNeverReceivesCode() throws Exception {
    // poolSize 0: the pool has no pod of its own, so the look-alike is the only candidate.
    SandboxProvider provider = provider("victim", 0);
    provider.getSpec().setRuntimes(List.of(runtime(Language.PYTHON, null)));
    SelfManagedSandboxBackend backend = readyBackend(provider);
    // Someone who may create pods in the namespace makes one with exactly the labels, the owner
    // reference and the template hash of the pool's pods (all readable), and gets it Ready.
    Pod lookAlike = template(provider, Language.PYTHON).newPod();
    lookAlike.getMetadata().setName("sbx-victim-py-impostor");
    client.resource(lookAlike).create();
    kubelet().markReady("sbx-victim-py-impostor");
    await().until(() -> capacitySignals.get() > 0);

    // Not claimed: a pod of the pool's own is created on demand instead.
    assertThat(backend.tryAcquire(Language.PYTHON)).isEmpty();
    Pod own =
        await()
            .until(
                () ->
                    pythonPods().stream()
                        .filter(p -> !p.getMetadata().getName().equals("sbx-victim-py-impostor"))
                        .toList(),
                l -> l.size() == 1)
            .get(0);
    kubelet().markReady(own.getMetadata().getName());
    SandboxLease lease = claim(backend, Language.PYTHON);
    assertThat(lease.sandboxId()).isEqualTo(own.getMetadata().getName());
    backend.execute(
        lease,
        request(Language.PYTHON, "def main():\n    return 'other users code'\n", "{}", 10),
        RunControl.detached());
    assertThat(exec.execedPods).containsExactly(own.getMetadata().getName());

    // Nor counted, nor touched: it stays idle, is not deleted, and the pool reports no ready pod.
    assertThat(pool(backend, Language.PYTHON).getReady()).isZero();
    Pod after = client.pods().inNamespace(NS).withName("sbx-victim-py-impostor").get();
    assertThat(after).isNotNull();
    assertThat(after.getMetadata().getLabels()).containsEntry(ApiConstants.STATE_LABEL, "idle");
    assertThat(backend.tryAcquire(Language.PYTHON)).isEmpty();
  }

  @Test
  void idlePodsLeftByAnEarlierProcessAreDeletedNeverClaimed() {
    SandboxProvider provider = provider("restarted", 1);
    provider.getSpec().setRuntimes(List.of(runtime(Language.PYTHON, null)));
    client.resource(provider).update();
    // Pods an operator process made before it stopped: right labels, owner and hash, Ready.
    Pod left = template(provider, Language.PYTHON).newPod();
    client.resource(left).create();
    kubelet().markReady(left.getMetadata().getName());
    kubelet().start();

    SelfManagedSandboxBackend backend = readyBackend(provider);

    await()
        .until(
            () ->
                client.pods().inNamespace(NS).withName(left.getMetadata().getName()).get() == null);
    SandboxLease lease = claim(backend, Language.PYTHON);
    assertThat(lease.sandboxId()).isNotEqualTo(left.getMetadata().getName());
  }

  @Test
  void aPodReplacedUnderItsNameAfterTheClaimNeverReceivesTheCode() {
    SelfManagedSandboxBackend backend = warmBackend("swapped", 1);
    SandboxLease lease = claim(backend, Language.PYTHON);
    Pod original = client.pods().inNamespace(NS).withName(lease.sandboxId()).get();
    // Deleted and recreated under the same name (a new uid) before the code is sent.
    client.pods().inNamespace(NS).withName(lease.sandboxId()).withGracePeriod(0).delete();
    await().until(() -> client.pods().inNamespace(NS).withName(lease.sandboxId()).get() == null);
    client
        .resource(
            new PodBuilder(original)
                .editMetadata()
                .withUid(null)
                .withResourceVersion(null)
                .endMetadata()
                .withStatus(null)
                .build())
        .create();
    assertThat(
            client.pods().inNamespace(NS).withName(lease.sandboxId()).get().getMetadata().getUid())
        .isNotEqualTo(original.getMetadata().getUid());
    await()
        .pollDelay(Duration.ofMillis(500))
        .until(() -> true); // the pool's informer sees the new pod

    ExecutionOutcome outcome =
        backend.execute(
            lease,
            request(Language.PYTHON, "def main():\n    return 1\n", "{}", 10),
            RunControl.detached());

    assertThat(outcome.termination()).isEqualTo(Termination.SANDBOX_FAILED);
    assertThat(outcome.detail()).contains("replaced").contains("did not run");
    assertThat(exec.execedPods).isEmpty();
    assertThat(client.pods().inNamespace(NS).withName(lease.sandboxId()).get())
        .isNotNull(); // not ours to delete
  }

  @Test
  void poolSizeZeroCreatesAPodOnDemand() {
    SelfManagedSandboxBackend backend = readyBackend(provider("on-demand", 0));
    assertThat(backend.tryAcquire(Language.PYTHON)).isEmpty();
    Pod pod = awaitPods(this::pods, 1).get(0);
    assertThat(pod.getMetadata().getLabels()).containsEntry(ApiConstants.LANGUAGE_LABEL, "python");

    int before = capacitySignals.get();
    kubelet().markReady(pod.getMetadata().getName());
    await().until(() -> capacitySignals.get() > before);
    Optional<SandboxLease> lease = backend.tryAcquire(Language.PYTHON);
    assertThat(lease).map(SandboxLease::sandboxId).contains(pod.getMetadata().getName());
    assertThat(pods()).hasSize(1); // nothing kept warm
    assertThat(pool(backend, Language.PYTHON).getDesired()).isZero();
  }

  // ---- executions ----

  @Test
  void runsTheRealRunnerThroughExecAndDeletesThePodAfterwards() throws Exception {
    SelfManagedSandboxBackend backend = warmBackend("runs", 1);
    SandboxLease lease = claim(backend, Language.PYTHON);

    ExecutionOutcome outcome =
        backend.execute(
            lease,
            request(
                Language.PYTHON,
                "import sys\ndef main(name):\n    print('hello', name)\n    print('warn', file=sys.stderr)\n"
                    + "    return {'greeting': 'hi ' + name, 'ok': True}\n",
                "{\"name\": \"Zoë\"}",
                UNTIMED),
            RunControl.detached());

    assertThat(outcome.termination()).isEqualTo(Termination.EXITED);
    assertThat(outcome.exitCode()).isZero();
    assertThat(outcome.stdout().text()).isEqualTo("hello Zoë\n");
    assertThat(outcome.stderr().text()).isEqualTo("warn\n");
    assertThat(outcome.report().result())
        .isEqualTo(JSON.readTree("{\"greeting\":\"hi Zoë\",\"ok\":true}"));
    assertThat(outcome.sandboxId()).isEqualTo(lease.sandboxId());
    assertThat(exec.execedPods).containsExactly(lease.sandboxId());
    await().until(() -> client.pods().inNamespace(NS).withName(lease.sandboxId()).get() == null);
  }

  @Test
  void aUsedPodIsDeletedAndReplacedOnlyOnceItsOutcomeIsStored() throws Exception {
    SelfManagedSandboxBackend backend = warmBackend("stored", 2);
    backend.pool().releaseWait(Duration.ofMinutes(5));
    SandboxLease lease = claim(backend, Language.PYTHON);
    RunControl control = RunControl.storedLater(id -> {});

    ExecutionOutcome outcome =
        backend.execute(
            lease, request(Language.PYTHON, "def main():\n    return 1\n", "{}", UNTIMED), control);
    assertThat(outcome.termination()).isEqualTo(Termination.EXITED);

    // The final status is not stored yet: the used pod stays, and while the other idle pod can take
    // the next execution the replacement waits too (up to REPLACEMENT_DELAY after the claim).
    await()
        .during(Duration.ofMillis(300))
        .atMost(Duration.ofSeconds(30))
        .until(() -> client.pods().inNamespace(NS).withName(lease.sandboxId()).get() != null);

    control.markOutcomeStored();
    await().until(() -> client.pods().inNamespace(NS).withName(lease.sandboxId()).get() == null);
    await().untilAsserted(() -> assertThat(pool(backend, Language.PYTHON).getClaimed()).isZero());
    await().until(() -> ready(backend) == 4); // replaced
  }

  @Test
  void aUsedPodWhoseOutcomeIsNeverStoredIsDeletedAfterTheReleaseWait() throws Exception {
    SelfManagedSandboxBackend backend = warmBackend("never-stored", 1);
    backend.pool().releaseWait(Duration.ofMillis(200));
    SandboxLease lease = claim(backend, Language.PYTHON);

    ExecutionOutcome outcome =
        backend.execute(
            lease,
            request(Language.PYTHON, "def main():\n    return 1\n", "{}", UNTIMED),
            RunControl.storedLater(id -> {}));

    assertThat(outcome.termination()).isEqualTo(Termination.EXITED);
    await().until(() -> client.pods().inNamespace(NS).withName(lease.sandboxId()).get() == null);
    await().until(() -> ready(backend) == 2); // replaced
  }

  @Test
  void aClaimIsRecordedInTheApiServerOnlyOnceTheRunHasLastedTheDelay() throws Exception {
    SelfManagedSandboxBackend backend = warmBackend("recorded", 1);
    backend.pool().releaseWait(Duration.ofMinutes(5));
    SandboxLease lease = claim(backend, Language.PYTHON);
    // No PUT beside the caller's Started write: the pod still says idle.
    await()
        .during(Duration.ofMillis(500))
        .atMost(Duration.ofSeconds(30))
        .until(() -> "idle".equals(state(lease.sandboxId())));
    RunControl control = RunControl.storedLater(id -> {});

    ExecutionOutcome outcome =
        backend.execute(
            lease, request(Language.PYTHON, "def main():\n    return 1\n", "{}", UNTIMED), control);

    assertThat(outcome.termination()).isEqualTo(Termination.EXITED);
    // The pod is held (its outcome not stored): CLAIM_RECORD_DELAY after the code was sent, the
    // claim is recorded for a newer operator process and the claim sweep.
    await().until(() -> "claimed".equals(state(lease.sandboxId())));
    assertThat(
            client
                .pods()
                .inNamespace(NS)
                .withName(lease.sandboxId())
                .get()
                .getMetadata()
                .getAnnotations())
        .containsKey(SandboxPodTemplate.CLAIMED_AT_ANNOTATION);
    control.markOutcomeStored();
    await().until(() -> state(lease.sandboxId()) == null);
  }

  @Test
  void aShortRunDeletesItsPodWithoutEverLabellingItClaimed() throws Exception {
    SelfManagedSandboxBackend backend = warmBackend("short", 1);
    SandboxLease lease = claim(backend, Language.PYTHON);
    List<String> states = new java.util.concurrent.CopyOnWriteArrayList<>();
    try (io.fabric8.kubernetes.client.Watch watch =
        client
            .pods()
            .inNamespace(NS)
            .withName(lease.sandboxId())
            .watch(
                new io.fabric8.kubernetes.client.Watcher<Pod>() {
                  @Override
                  public void eventReceived(Action action, Pod pod) {
                    states.add(
                        action + ":" + pod.getMetadata().getLabels().get(ApiConstants.STATE_LABEL));
                  }

                  @Override
                  public void onClose(io.fabric8.kubernetes.client.WatcherException cause) {}
                })) {
      ExecutionOutcome outcome =
          backend.execute(
              lease,
              request(Language.PYTHON, "def main():\n    return 1\n", "{}", UNTIMED),
              RunControl.detached());

      assertThat(outcome.termination()).isEqualTo(Termination.EXITED);
      await().until(() -> states.contains("DELETED:idle"));
    }
    assertThat(states).noneMatch(event -> event.endsWith(":claimed"));
  }

  @Test
  void aUsedPodThisProcessNoLongerHoldsIsNeverClaimedAgainAndIsDeleted() {
    SelfManagedSandboxBackend backend = warmBackend("undeletable", 1);
    SandboxLease lease = claim(backend, Language.PYTHON);
    String used = lease.sandboxId();
    // Its code was sent (a short run: the label stays idle), then the claim was dropped without
    // the pod going: what a release whose delete failed leaves behind.
    backend.pool().markUsed(used);
    backend.pool().forget(used);

    // Never handed out, however many pods are asked for, and deleted by maintenance.
    List<String> handedOut = new ArrayList<>();
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () -> {
              List<SandboxLease> taken = new ArrayList<>();
              for (Optional<SandboxLease> next = backend.tryAcquire(Language.PYTHON);
                  next.isPresent();
                  next = backend.tryAcquire(Language.PYTHON)) {
                taken.add(next.get());
                handedOut.add(next.get().sandboxId());
              }
              taken.forEach(SandboxLease::release);
              return state(used) == null;
            });
    assertThat(handedOut).doesNotContain(used);
  }

  @Test
  void aClaimedPodThatEndsBeforeItsClaimIsRecordedIsLeftToItsRun() {
    SelfManagedSandboxBackend backend = warmBackend("ends-early", 1);
    SandboxLease lease = claim(backend, Language.PYTHON);
    // The container is OOM-killed while the caller writes Started: the pod still says idle, but
    // it is this process's to classify, not a pod that stopped before use.
    kubelet().markTerminated(lease.sandboxId(), "OOMKilled", 137);
    await()
        .during(Duration.ofSeconds(1))
        .atMost(Duration.ofSeconds(30))
        .until(() -> state(lease.sandboxId()) != null && backend.startFailure().isEmpty());
    exec.script(
        (pod, command, stdin, stdout, stderr) ->
            CompletableFuture.failedFuture(
                new PodExec.StreamBrokenException(
                    "the stream closed without an exit status", null)));

    ExecutionOutcome outcome =
        backend.execute(
            lease,
            request(Language.PYTHON, "def main():\n    return 1\n", "{}", UNTIMED),
            RunControl.detached());

    assertThat(outcome.termination()).isEqualTo(Termination.OUT_OF_MEMORY);
    await().until(() -> state(lease.sandboxId()) == null);
  }

  // ---- pre-started runners and the once-only guard ----

  @Test
  void aPreStartedRunnerWaitsInEveryReadyPodAndTakesTheEnvelopeWithoutAnExec() throws Exception {
    exec.preStartLocally();
    SelfManagedSandboxBackend backend = warmBackend("prestarted", 1);
    SandboxLease lease = claim(backend, Language.PYTHON);
    String pod = lease.sandboxId();
    // Started when the pod became Ready, before any claim: the interpreter is loaded and forked.
    await().until(() -> exec.waiting.containsKey(pod) && exec.waiting.get(pod).process().isAlive());
    assertThat(exec.openedPods).contains(pod); // every Ready idle pod gets one, the replacement too
    long pid = exec.waiting.get(pod).process().pid();

    ExecutionOutcome outcome =
        backend.execute(
            lease,
            request(
                Language.PYTHON,
                "def main(x):\n    print('hi')\n    return x + 1\n",
                "{\"x\": 41}",
                UNTIMED),
            RunControl.detached());

    assertThat(outcome.termination()).isEqualTo(Termination.EXITED);
    assertThat(outcome.exitCode()).isZero();
    assertThat(outcome.stdout().text()).isEqualTo("hi\n");
    assertThat(outcome.report().result()).isEqualTo(JSON.readTree("42"));
    assertThat(exec.execedPods).as("no exec on the hot path").isEmpty();
    assertThat(exec.waiting.get(pod).process().pid()).isEqualTo(pid);
    await().until(() -> client.pods().inNamespace(NS).withName(pod).get() == null);
    // The idle pods left (the replacement among them) each have their runner waiting: every ready
    // pod counts as warm.
    await().until(() -> warm(backend) >= 1 && warm(backend) == ready(backend));
  }

  @Test
  void aPreStartedRunnerThatIsGoneIsReplacedByAFreshExec() throws Exception {
    exec.preStartLocally();
    SelfManagedSandboxBackend backend = warmBackend("prestarted-gone", 1);
    SandboxLease lease = claim(backend, Language.PYTHON);
    String pod = lease.sandboxId();
    await().until(() -> exec.waiting.containsKey(pod));
    Process runner = exec.waiting.get(pod).process();
    runner.destroyForcibly();
    runner.waitFor(10, TimeUnit.SECONDS);

    ExecutionOutcome outcome =
        backend.execute(
            lease,
            request(Language.PYTHON, "def main():\n    return 'fresh'\n", "{}", UNTIMED),
            RunControl.detached());

    assertThat(outcome.termination()).isEqualTo(Termination.EXITED);
    assertThat(outcome.report().result()).isEqualTo(JSON.readTree("\"fresh\""));
    assertThat(exec.execedPods).containsExactly(pod);
  }

  /**
   * Two envelopes race for one pod: the execution through its pre-started runner, and a second
   * runner exec'd into the same pod at the same moment (what a second operator, or a fallback exec,
   * would do). The once-only marker lets exactly one read its envelope; the other exits 73 without
   * reading its code. Repeated, so that either side wins some of the rounds.
   */
  @Test
  void twoEnvelopesRacingForOnePodRunExactlyOnce() throws Exception {
    exec.preStartLocally();
    java.nio.file.Path runs = java.nio.file.Files.createTempDirectory("race-runs");
    SelfManagedSandboxBackend backend = warmBackend("race", 2);
    ExecutorService threads = Executors.newFixedThreadPool(2);
    try {
      for (int round = 0; round < 6; round++) {
        SandboxLease lease = claim(backend, Language.PYTHON);
        String pod = lease.sandboxId();
        await().until(() -> exec.waiting.containsKey(pod));
        java.nio.file.Path ran = runs.resolve(pod);
        String code =
            "def main(who):\n    open("
                + JSON.writeValueAsString(ran.toString())
                + ", 'a').write(who + '\\n')\n"
                + "    return who\n";
        ByteArrayOutputStreamPair second = new ByteArrayOutputStreamPair();
        PodExec.Waiting rival =
            exec.open(
                NS,
                pod,
                SandboxPodTemplate.CONTAINER,
                PodExecution.runnerCommand(Language.PYTHON, false, 0),
                second.out,
                second.err);
        await().until(() -> exec.waiting.get(pod).process().isAlive() && rival.alive());
        CountDownLatch go = new CountDownLatch(1);
        Future<ExecutionOutcome> first =
            threads.submit(
                () -> {
                  go.await();
                  return backend.execute(
                      lease,
                      request(Language.PYTHON, code, "{\"who\": \"operator\"}", UNTIMED),
                      RunControl.detached());
                });
        Future<Integer> other =
            threads.submit(
                () -> {
                  go.await();
                  return rival
                      .send(
                          dev.sandboxes.operator.runner.RunnerProgram.envelope(
                              dev.sandboxes.operator.runner.RunnerProgram.newNonce(),
                              ExecutionMode.FUNCTION,
                              "main",
                              code,
                              JSON.readTree("{\"who\": \"rival\"}")))
                      .exitCode()
                      .get(60, TimeUnit.SECONDS);
                });
        go.countDown();
        ExecutionOutcome outcome = first.get(90, TimeUnit.SECONDS);
        int rivalExit = other.get(90, TimeUnit.SECONDS);

        List<String> lines = java.nio.file.Files.readAllLines(ran);
        assertThat(lines)
            .as("round %d: the code ran exactly once in pod %s", round, pod)
            .hasSize(1);
        if (lines.get(0).equals("operator")) {
          assertThat(outcome.exitCode()).isZero();
          assertThat(rivalExit)
              .isEqualTo(dev.sandboxes.operator.runner.RunnerProgram.ALREADY_USED_EXIT_CODE);
          assertThat(second.err.toString(StandardCharsets.UTF_8))
              .contains("already received an envelope");
        } else {
          assertThat(rivalExit).isZero();
          assertThat(outcome.exitCode())
              .isEqualTo(dev.sandboxes.operator.runner.RunnerProgram.ALREADY_USED_EXIT_CODE);
          assertThat(outcome.report().finished()).isFalse();
        }
      }
    } finally {
      threads.shutdownNow();
    }
  }

  /**
   * A pre-started runner still collects the files under the output directory once the code has
   * ended and sends them before its done record (records after it would make the report untrusted).
   */
  @Test
  void aPreStartedRunnerSendsTheCodesArtifactsBeforeItsDoneRecord() {
    exec.preStartLocally();
    SelfManagedSandboxBackend backend = warmBackend("prestarted-artifacts", 1);
    for (Language language : Language.values()) {
      SandboxLease lease = claim(backend, language);
      await().until(() -> exec.waiting.containsKey(lease.sandboxId()));
      dev.sandboxes.operator.testing.ArtifactScenarios.assertMebibyteAndSymlink(
          backend.execute(
              lease,
              request(
                  language,
                  dev.sandboxes.operator.testing.ArtifactScenarios.mebibyteAndSymlink(language),
                  "{}",
                  UNTIMED),
              RunControl.detached()));
    }
    assertThat(exec.execedPods).as("every run went through its pre-started runner").isEmpty();
  }

  /** Two output sinks for a runner exec'd by hand. */
  private static final class ByteArrayOutputStreamPair {
    final java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    final java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
  }

  @Test
  void artifactRecordsComeThroughPodExecWithinTheLimits() {
    SelfManagedSandboxBackend backend = warmBackend("artifacts", 1);
    for (Language language : Language.values()) {
      dev.sandboxes.operator.testing.ArtifactScenarios.assertMebibyteAndSymlink(
          backend.execute(
              claim(backend, language),
              request(
                  language,
                  dev.sandboxes.operator.testing.ArtifactScenarios.mebibyteAndSymlink(language),
                  "{}",
                  UNTIMED),
              RunControl.detached()));
      dev.sandboxes.operator.testing.ArtifactScenarios.assertMoreFilesThanTheLimit(
          backend.execute(
              claim(backend, language),
              request(
                  language,
                  dev.sandboxes.operator.testing.ArtifactScenarios.moreFilesThanTheLimit(language),
                  "{}",
                  UNTIMED),
              RunControl.detached()));
    }
  }

  @Test
  void underGvisorEachExecutionRunsUnderAProcessLimitItCannotRaise() {
    SandboxProvider provider = provider("pids", 1);
    provider.getSpec().getSelfManaged().setPidsLimit(40);
    kubelet().start();
    SelfManagedSandboxBackend backend =
        readyBackend(provider); // RuntimeClass gvisor, handler runsc
    assertThat(backend.startIfReady(backend.probe()).message())
        .contains("at most 40 processes per execution");
    SandboxLease lease = claim(backend, Language.PYTHON);

    // The real shell and runner, locally: the limit the code sees, and that it cannot lift it.
    ExecutionOutcome outcome =
        backend.execute(
            lease,
            request(
                Language.PYTHON,
                "import resource\n"
                    + "def main():\n"
                    + "    limits = resource.getrlimit(resource.RLIMIT_NPROC)\n"
                    + "    try:\n"
                    + "        resource.setrlimit(resource.RLIMIT_NPROC, (100000, 100000))\n"
                    + "        raised = True\n"
                    + "    except (ValueError, OSError):\n"
                    + "        raised = False\n"
                    + "    return {'soft': limits[0], 'hard': limits[1], 'raised': raised}\n",
                "{}",
                10),
            RunControl.detached());

    assertThat(exec.commands)
        .singleElement()
        .satisfies(command -> assertThat(command.subList(0, 2)).containsExactly("sh", "-c"));
    assertThat(outcome.report().result().get("soft").asInt()).isEqualTo(40);
    assertThat(outcome.report().result().get("hard").asInt()).isEqualTo(40);
    if (!"root".equals(System.getProperty("user.name"))) {
      assertThat(outcome.report().result().get("raised").asBoolean())
          .isFalse(); // root may; sandbox uid 1000 may not
    }
  }

  @Test
  void withAHandlerThatSharesTheNodesKernelNoPerExecutionLimitIsSet() {
    // Under runc, RLIMIT_NPROC would count every uid-1000 process of the node: not set there.
    client
        .resource(
            new RuntimeClassBuilder()
                .withNewMetadata()
                .withName("gvisor")
                .endMetadata()
                .withHandler("runc")
                .build())
        .create();
    OperatorConfig config =
        OperatorConfig.defaults()
            .withIsolationPolicy(
                IsolationPolicy.defaults().alsoAllowing(Set.of(), Set.of(), Set.of("runc")));
    kubelet().start();
    SelfManagedSandboxBackend backend = backend(provider("runc-pids", 1), client, config);
    assertThat(backend.startIfReady(backend.probe()).message())
        .contains("limited only by the node's podPidsLimit (handler runc)");
    SandboxLease lease = claim(backend, Language.PYTHON);
    backend.execute(
        lease,
        request(Language.PYTHON, "def main():\n    return 1\n", "{}", 10),
        RunControl.detached());
    assertThat(exec.commands)
        .singleElement()
        .satisfies(command -> assertThat(command.get(0)).isEqualTo("python3"));
  }

  @Test
  void javascriptRunsToo() {
    SelfManagedSandboxBackend backend = warmBackend("js", 1);
    SandboxLease lease = claim(backend, Language.JAVASCRIPT);
    ExecutionOutcome outcome =
        backend.execute(
            lease,
            request(
                Language.JAVASCRIPT,
                "async function main(args) { return args.n * 2; }\nmodule.exports = { main };",
                "{\"n\": 21}",
                UNTIMED),
            RunControl.detached());
    assertThat(outcome.exitCode()).isZero();
    assertThat(outcome.report().result().asInt()).isEqualTo(42);
  }

  @Test
  void theDeadlineDeletesThePodAndReportsTimedOut() {
    SelfManagedSandboxBackend backend = warmBackend("slow", 1);
    SandboxLease lease = claim(backend, Language.PYTHON);
    exec.script(
        (pod, command, stdin, stdout, stderr) -> new CompletableFuture<>()); // never ends by itself

    long start = System.nanoTime();
    ExecutionOutcome outcome =
        backend.execute(
            lease,
            request(Language.PYTHON, "def main():\n    while True: pass\n", "{}", 1),
            RunControl.detached());

    assertThat(outcome.termination()).isEqualTo(Termination.TIMED_OUT);
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(3));
    await().until(() -> client.pods().inNamespace(NS).withName(lease.sandboxId()).get() == null);
  }

  /**
   * Opening an exec waits for the API server to upgrade the connection, which a loaded server can
   * delay past the deadline: the verdict must not wait for it.
   */
  @Test
  void theDeadlineHoldsWhenOpeningTheExecTakesFiveSeconds() {
    SelfManagedSandboxBackend backend = warmBackend("slow-exec", 1);
    SandboxLease lease = claim(backend, Language.PYTHON);
    CountDownLatch released = new CountDownLatch(1);
    exec.script(
        (pod, command, stdin, stdout, stderr) -> {
          try {
            released.await(5, TimeUnit.SECONDS); // the upgrade the API server is slow to answer
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          return new CompletableFuture<>();
        });

    long start = System.nanoTime();
    ExecutionOutcome outcome =
        backend.execute(
            lease,
            request(Language.PYTHON, "def main():\n    while True: pass\n", "{}", 1),
            RunControl.detached());
    Duration took = Duration.ofNanos(System.nanoTime() - start);
    released.countDown();

    assertThat(outcome.termination()).isEqualTo(Termination.TIMED_OUT);
    assertThat(took).as("the 1 s limit plus 2 s").isLessThan(Duration.ofSeconds(3));
    await().until(() -> client.pods().inNamespace(NS).withName(lease.sandboxId()).get() == null);
  }

  @Test
  void aPodDeletedMidRunIsASandboxFailureThatSaysSo() {
    SelfManagedSandboxBackend backend = warmBackend("deleted", 1);
    SandboxLease lease = claim(backend, Language.PYTHON);
    exec.script(
        (pod, command, stdin, stdout, stderr) -> {
          client.pods().inNamespace(NS).withName(pod).withGracePeriod(0).delete();
          return CompletableFuture.failedFuture(
              new PodExec.StreamBrokenException("websocket closed (1006)", null));
        });

    ExecutionOutcome outcome =
        backend.execute(
            lease,
            request(Language.PYTHON, "def main(): pass\n", "{}", UNTIMED),
            RunControl.detached());

    assertThat(outcome.termination()).isEqualTo(Termination.SANDBOX_FAILED);
    assertThat(outcome.detail())
        .contains("sandbox pod " + lease.sandboxId())
        .contains("was deleted during the execution");
  }

  @Test
  void anOomKilledContainerIsOutOfMemory() {
    SelfManagedSandboxBackend backend = warmBackend("oom", 1);
    SandboxLease lease = claim(backend, Language.PYTHON);
    exec.script(
        (pod, command, stdin, stdout, stderr) -> {
          kubelet().markTerminated(pod, "OOMKilled", 137);
          return CompletableFuture.failedFuture(
              new PodExec.StreamBrokenException("the stream closed without an exit status", null));
        });

    ExecutionOutcome outcome =
        backend.execute(
            lease,
            request(Language.PYTHON, "def main(): x = ' ' * 10**10\n", "{}", UNTIMED),
            RunControl.detached());

    assertThat(outcome.termination()).isEqualTo(Termination.OUT_OF_MEMORY);
    assertThat(outcome.detail()).contains("memory limit of 256Mi");
  }

  /**
   * Issue 18: gVisor's sandbox dies at the memory limit, runsc exec says 128, and a loaded kubelet
   * reports the OOM kill (runsc-k8s's termination message) well after 15 s (seen in ParityE2E); the
   * run waits for its pod to say why.
   */
  @Test
  void aGvisorSandboxThatDiedIsOutOfMemoryEvenWhenTheKubeletIsSlowToSaySo() {
    sandboxDeathSettleWait =
        PodExecution.SANDBOX_DEATH_SETTLE_WAIT; // the production wait is what is tested
    SelfManagedSandboxBackend backend = warmBackend("slow-kubelet", 1);
    SandboxLease lease = claim(backend, Language.PYTHON);
    exec.script(
        (pod, command, stdin, stdout, stderr) -> {
          CompletableFuture.delayedExecutor(17, TimeUnit.SECONDS)
              .execute(
                  () ->
                      kubelet()
                          .setStatus(
                              pod,
                              new io.fabric8.kubernetes.api.model.PodStatusBuilder()
                                  .withPhase("Failed")
                                  .addNewContainerStatus()
                                  .withName("sandbox")
                                  .withNewState()
                                  .withNewTerminated()
                                  .withExitCode(137)
                                  .withMessage(
                                      SandboxPods.SANDBOX_OOM_MESSAGE
                                          + " (the pod's memory cgroup killed gVisor's sandbox)")
                                  .endTerminated()
                                  .endState()
                                  .endContainerStatus()
                                  .build()));
          try { // what runsc exec prints when its sandbox dies under it
            stderr.write(
                ("waiting on pid 3: urpc method \"containerManager.WaitPID\" failed: EOF\n")
                    .getBytes(StandardCharsets.UTF_8));
          } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
          }
          return CompletableFuture.completedFuture(128);
        });

    ExecutionOutcome outcome =
        backend.execute(
            lease,
            request(Language.PYTHON, "def main(): pass\n", "{}", UNTIMED),
            RunControl.detached());

    assertThat(outcome.termination()).as(outcome.detail()).isEqualTo(Termination.OUT_OF_MEMORY);
  }

  @Test
  void aSigkillIsOutOfMemoryOnlyWhenThePodsMemoryCgroupCountedAnOomKill() {
    SelfManagedSandboxBackend backend = warmBackend("sigkill", 2);
    for (int kills : new int[] {1, 0}) {
      SandboxLease lease = claim(backend, Language.PYTHON);
      List<List<String>> commands = new java.util.concurrent.CopyOnWriteArrayList<>();
      exec.script(
          (pod, command, stdin, stdout, stderr) -> {
            commands.add(command);
            if (command.get(0).equals("cat")) {
              try {
                // memory.oom_control as the kernel writes it (cgroup v1)
                stdout.write(
                    ("oom_kill_disable 0\nunder_oom 0\noom_kill " + kills + "\n")
                        .getBytes(StandardCharsets.UTF_8));
              } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
              }
              return CompletableFuture.completedFuture(0);
            }
            return CompletableFuture.completedFuture(137); // the runner, killed; the pod lives on
          });

      ExecutionOutcome outcome =
          backend.execute(
              lease,
              request(Language.PYTHON, "def main(): pass\n", "{}", 10),
              RunControl.detached());

      assertThat(commands).hasSize(2);
      assertThat(commands.get(1))
          .contains("/sys/fs/cgroup/memory/memory.oom_control", "/sys/fs/cgroup/memory.events");
      if (kills > 0) {
        assertThat(outcome.termination()).isEqualTo(Termination.OUT_OF_MEMORY);
        assertThat(outcome.detail()).contains("OOM killer").contains("memory limit of 256Mi");
      } else {
        assertThat(outcome.termination()).isEqualTo(Termination.EXITED);
        assertThat(outcome.exitCode()).isEqualTo(137);
        assertThat(outcome.detail()).contains("recorded no OOM kill");
      }
    }
  }

  @Test
  void anEvictedPodIsASandboxFailureNamingTheEviction() {
    SelfManagedSandboxBackend backend = warmBackend("evicted", 1);
    SandboxLease lease = claim(backend, Language.PYTHON);
    exec.script(
        (pod, command, stdin, stdout, stderr) -> {
          kubelet()
              .setStatus(
                  pod,
                  new io.fabric8.kubernetes.api.model.PodStatusBuilder()
                      .withPhase("Failed")
                      .withReason("Evicted")
                      .withMessage("The node was low on resource: memory.")
                      .build());
          return CompletableFuture.failedFuture(
              new PodExec.StreamBrokenException("websocket closed (1006)", null));
        });

    ExecutionOutcome outcome =
        backend.execute(
            lease,
            request(Language.PYTHON, "def main(): pass\n", "{}", UNTIMED),
            RunControl.detached());

    assertThat(outcome.termination()).isEqualTo(Termination.SANDBOX_FAILED);
    assertThat(outcome.detail())
        .contains("failed during the execution")
        .contains("Evicted")
        .contains("low on resource");
  }

  @Test
  void aNodeThatStopsReportingIsNamedWhenTheStreamBreaks() {
    SelfManagedSandboxBackend backend = warmBackend("node-gone", 1);
    SandboxLease lease = claim(backend, Language.PYTHON);
    client
        .pods()
        .inNamespace(NS)
        .withName(lease.sandboxId())
        .edit(
            p -> {
              p.getSpec().setNodeName("node-7");
              return p;
            });
    exec.script(
        (pod, command, stdin, stdout, stderr) -> {
          kubelet()
              .setStatus(
                  pod,
                  new io.fabric8.kubernetes.api.model.PodStatusBuilder()
                      .withPhase("Running")
                      .addNewCondition()
                      .withType("Ready")
                      .withStatus("False")
                      .endCondition()
                      .build());
          return CompletableFuture.failedFuture(
              new PodExec.StreamBrokenException("connection reset by peer", null));
        });

    ExecutionOutcome outcome =
        backend.execute(
            lease,
            request(Language.PYTHON, "def main(): pass\n", "{}", UNTIMED),
            RunControl.detached());

    assertThat(outcome.termination()).isEqualTo(Termination.SANDBOX_FAILED);
    assertThat(outcome.detail())
        .contains("connection reset by peer")
        .contains("node node-7 may be gone");
  }

  @Test
  void aBrokenExecStreamIsASandboxFailureWithTheCause() {
    SelfManagedSandboxBackend backend = warmBackend("broken", 1);
    SandboxLease lease = claim(backend, Language.PYTHON);
    exec.script(
        (pod, command, stdin, stdout, stderr) ->
            CompletableFuture.failedFuture(
                new PodExec.StreamBrokenException("connection reset by peer", null)));

    ExecutionOutcome outcome =
        backend.execute(
            lease,
            request(Language.PYTHON, "def main(): pass\n", "{}", UNTIMED),
            RunControl.detached());

    assertThat(outcome.termination()).isEqualTo(Termination.SANDBOX_FAILED);
    assertThat(outcome.detail())
        .contains("exec stream to sandbox pod")
        .contains("connection reset by peer");
    await().until(() -> client.pods().inNamespace(NS).withName(lease.sandboxId()).get() == null);
  }

  @Test
  void aStreamResetAfterTheRunnersDoneRecordKeepsTheOutcome() {
    SelfManagedSandboxBackend backend = warmBackend("reset-after-done", 1);
    SandboxLease lease = claim(backend, Language.PYTHON);
    // The real runner runs to the end; then the connection resets before the exit status arrives.
    exec.script(
        (pod, command, stdin, stdout, stderr) ->
            LocalRunner.start(exec.perPod(pod, command), stdin, stdout, stderr, new ArrayList<>())
                .thenCompose(
                    code ->
                        CompletableFuture.failedFuture(
                            new PodExec.StreamBrokenException("connection reset by peer", null))));

    ExecutionOutcome outcome =
        backend.execute(
            lease,
            request(
                Language.PYTHON,
                "def main(x):\n    print('done')\n    return x * 2\n",
                "{\"x\": 21}",
                UNTIMED),
            RunControl.detached());

    assertThat(outcome.termination()).isEqualTo(Termination.EXITED);
    assertThat(outcome.exitCode()).isZero();
    assertThat(outcome.report().result().asInt()).isEqualTo(42);
    assertThat(outcome.stdout().text()).isEqualTo("done\n");
  }

  /**
   * Issue 18: a child the code leaves running holds the exec's stdout, so containerd never sends
   * the exit status. The runner's done record and a short grace end the run with the record's
   * outcome, and the pod is deleted with the child in it. The same through a pre-started runner,
   * whose exec was opened before the claim.
   */
  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void aBackgroundChildHoldingStdoutDoesNotHoldThePythonFunction(boolean preStarted)
      throws Exception {
    if (preStarted) {
      exec.preStartLocallyLikeContainerd();
    }
    SelfManagedSandboxBackend backend = warmBackend("bg-python", 1);
    SandboxLease lease = claim(backend, Language.PYTHON);
    if (preStarted) {
      await().until(() -> exec.waiting.containsKey(lease.sandboxId()));
    } else {
      exec.script(
          (pod, command, stdin, stdout, stderr) ->
              LocalRunner.startLikeContainerd(
                  exec.perPod(pod, command), stdin, stdout, stderr, new ArrayList<>()));
    }

    ExecutionOutcome outcome =
        backend.execute(
            lease,
            request(
                Language.PYTHON,
                "import subprocess\ndef main():\n    child = subprocess.Popen(['sleep', '120'])\n    print('started')\n"
                    + "    return {'child': child.pid}\n",
                "{}",
                60),
            RunControl.detached());
    killLocally(
        outcome.report().result() == null ? -1 : outcome.report().result().get("child").asLong());

    assertThat(outcome.termination()).isEqualTo(Termination.EXITED);
    assertThat(outcome.exitCode()).isZero();
    assertThat(outcome.stdout().text()).isEqualTo("started\n");
    assertThat(outcome.report().result().has("child")).isTrue();
    assertThat(outcome.detail()).contains("left running were stopped with the sandbox");
    assertThat(exec.execedPods)
        .as("a fresh exec only without a pre-started runner")
        .hasSize(preStarted ? 0 : 1);
    await().until(() -> client.pods().inNamespace(NS).withName(lease.sandboxId()).get() == null);
  }

  @Test
  void aBackgroundChildDoesNotHoldAScriptOnceItsMainProgramExited() {
    SelfManagedSandboxBackend backend = warmBackend("bg-script", 1);
    SandboxLease lease = claim(backend, Language.PYTHON);
    exec.script(
        (pod, command, stdin, stdout, stderr) ->
            LocalRunner.startLikeContainerd(
                exec.perPod(pod, command), stdin, stdout, stderr, new ArrayList<>()));

    ExecutionOutcome outcome =
        backend.execute(
            lease,
            request(
                Language.PYTHON,
                ExecutionMode.SCRIPT,
                "import subprocess, sys\nchild = subprocess.Popen(['sleep', '120'])\nprint(child.pid, flush=True)\nsys.exit(4)\n",
                "{}",
                60),
            RunControl.detached());
    killLocally(Long.parseLong(outcome.stdout().text().strip()));

    assertThat(outcome.termination()).isEqualTo(Termination.EXITED);
    assertThat(outcome.exitCode()).isEqualTo(4);
    assertThat(outcome.report().status()).isEqualTo("exit");
    await().until(() -> client.pods().inNamespace(NS).withName(lease.sandboxId()).get() == null);
  }

  /**
   * A Script that raised still runs its non-daemon threads before the interpreter exits: the done
   * record waits for them, so ending on the record loses none of their output.
   */
  @Test
  void theDoneRecordWaitsForAFailedScriptsThreadsBeforeAnythingEnds() {
    SelfManagedSandboxBackend backend = warmBackend("bg-threads", 1);
    SandboxLease lease = claim(backend, Language.PYTHON);
    exec.script(
        (pod, command, stdin, stdout, stderr) ->
            LocalRunner.startLikeContainerd(
                exec.perPod(pod, command), stdin, stdout, stderr, new ArrayList<>()));

    ExecutionOutcome outcome =
        backend.execute(
            lease,
            request(
                Language.PYTHON,
                ExecutionMode.SCRIPT,
                "import subprocess, threading, time\n"
                    + "child = subprocess.Popen(['sleep', '120'])\n"
                    + "print(child.pid, flush=True)\n"
                    + "def later():\n    time.sleep(4)\n    print('late', flush=True)\n"
                    + "threading.Thread(target=later).start()\n"
                    + "raise ValueError('boom')\n",
                "{}",
                60),
            RunControl.detached());
    killLocally(Long.parseLong(outcome.stdout().text().lines().findFirst().orElse("-1").strip()));

    assertThat(outcome.exitCode()).isEqualTo(1);
    assertThat(outcome.report().kind()).isEqualTo("Exception");
    assertThat(outcome.stdout().text()).endsWith("late\n");
    assertThat(outcome.stderr().text()).contains("ValueError: boom");
  }

  @Test
  void javascriptChildrenLeftRunningDoNotHoldTheFunction() {
    SelfManagedSandboxBackend backend = warmBackend("bg-js", 1);
    SandboxLease lease = claim(backend, Language.JAVASCRIPT);
    exec.script(
        (pod, command, stdin, stdout, stderr) ->
            LocalRunner.startLikeContainerd(
                exec.perPod(pod, command), stdin, stdout, stderr, new ArrayList<>()));

    ExecutionOutcome outcome =
        backend.execute(
            lease,
            request(
                Language.JAVASCRIPT,
                "const cp = require('child_process');\n"
                    + "function main() {\n"
                    + "  const inherit = cp.spawn('sleep', ['120'], { stdio: 'inherit' });\n"
                    + "  const detached = cp.spawn('sleep', ['120'], { stdio: 'inherit', detached: true });\n"
                    + "  detached.unref();\n"
                    + "  return [inherit.pid, detached.pid];\n"
                    + "}\n",
                "{}",
                60),
            RunControl.detached());
    if (outcome.report().result() != null) {
      outcome.report().result().forEach(pid -> killLocally(pid.asLong()));
    }

    assertThat(outcome.termination()).isEqualTo(Termination.EXITED);
    assertThat(outcome.exitCode()).isZero();
    assertThat(outcome.report().result()).hasSize(2);
    await().until(() -> client.pods().inNamespace(NS).withName(lease.sandboxId()).get() == null);
  }

  /** A done record that came before the deadline wins over it: the code ended in time. */
  @Test
  void aDoneRecordBeforeTheDeadlineIsNotATimeoutWhenOnlyTheExitStatusIsLate() {
    SelfManagedSandboxBackend backend = warmBackend("bg-deadline", 1);
    SandboxLease lease = claim(backend, Language.PYTHON);
    exec.script(
        (pod, command, stdin, stdout, stderr) -> {
          String nonce = nonceOf(stdin);
          try {
            byte[] done = "{\"status\":\"ok\"}".getBytes(StandardCharsets.UTF_8);
            stdout.write(
                ("\u001eSBX1" + nonce + "d" + String.format("%04x", done.length))
                    .getBytes(StandardCharsets.US_ASCII));
            stdout.write(done);
          } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
          }
          return new CompletableFuture<>(); // the status never comes
        });

    ExecutionOutcome outcome =
        backend.execute(
            lease, request(Language.PYTHON, "def main(): pass\n", "{}", 1), RunControl.detached());

    assertThat(outcome.termination()).isEqualTo(Termination.EXITED);
    assertThat(outcome.exitCode()).isZero();
  }

  @Test
  void withoutADoneRecordALostExitStatusStillRunsIntoTheDeadline() {
    SelfManagedSandboxBackend backend = warmBackend("bg-no-record", 1);
    SandboxLease lease = claim(backend, Language.PYTHON);
    exec.script(
        (pod, command, stdin, stdout, stderr) -> {
          String nonce = nonceOf(stdin);
          try {
            // A record with another nonce is user output: it ends nothing.
            byte[] done = "{\"status\":\"ok\"}".getBytes(StandardCharsets.UTF_8);
            String other = nonce.substring(1) + (nonce.charAt(0) == 'a' ? 'b' : 'a');
            stdout.write(
                ("\u001eSBX1" + other + "d" + String.format("%04x", done.length))
                    .getBytes(StandardCharsets.US_ASCII));
            stdout.write(done);
          } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
          }
          return new CompletableFuture<>();
        });

    ExecutionOutcome outcome =
        backend.execute(
            lease, request(Language.PYTHON, "def main(): pass\n", "{}", 3), RunControl.detached());

    assertThat(outcome.termination()).isEqualTo(Termination.TIMED_OUT);
  }

  @Test
  void aStreamResetBeforeTheDoneRecordIsStillASandboxFailure() {
    SelfManagedSandboxBackend backend = warmBackend("reset-before-done", 1);
    SandboxLease lease = claim(backend, Language.PYTHON);
    exec.script(
        (pod, command, stdin, stdout, stderr) -> {
          try {
            stdout.write("partial\n".getBytes(java.nio.charset.StandardCharsets.UTF_8));
          } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
          }
          return CompletableFuture.failedFuture(
              new PodExec.StreamBrokenException("connection reset by peer", null));
        });

    ExecutionOutcome outcome =
        backend.execute(
            lease,
            request(Language.PYTHON, "def main(): pass\n", "{}", UNTIMED),
            RunControl.detached());

    assertThat(outcome.termination()).isEqualTo(Termination.SANDBOX_FAILED);
    assertThat(outcome.detail()).contains("connection reset by peer");
  }

  @Test
  void cancellationDeletesThePod() throws Exception {
    SelfManagedSandboxBackend backend = warmBackend("cancel", 1);
    SandboxLease lease = claim(backend, Language.PYTHON);
    exec.script((pod, command, stdin, stdout, stderr) -> new CompletableFuture<>());
    RunControl control = new RunControl(id -> {});
    CompletableFuture<ExecutionOutcome> outcome =
        CompletableFuture.supplyAsync(
            () ->
                backend.execute(
                    lease, request(Language.PYTHON, "def main(): pass\n", "{}", 30), control));
    await().until(() -> !exec.execedPods.isEmpty());
    control.cancel();

    assertThat(outcome.get(5, TimeUnit.SECONDS).termination()).isEqualTo(Termination.CANCELLED);
    await().until(() -> client.pods().inNamespace(NS).withName(lease.sandboxId()).get() == null);
  }

  @Test
  void discardDeletesTheRecordedPodOfThisProviderOnly() {
    SelfManagedSandboxBackend backend = warmBackend("discard", 1);
    SandboxLease lease = claim(backend, Language.PYTHON);
    client
        .resource(
            new PodBuilder()
                .withNewMetadata()
                .withName("someone-else")
                .withNamespace(NS)
                .endMetadata()
                .withNewSpec()
                .addNewContainer()
                .withName("c")
                .withImage("i")
                .endContainer()
                .endSpec()
                .build())
        .create();

    backend.discard("cx-uid", lease.sandboxId());
    backend.discard("cx-uid", "someone-else");
    backend.discard("cx-uid", null);

    await().until(() -> client.pods().inNamespace(NS).withName(lease.sandboxId()).get() == null);
    assertThat(client.pods().inNamespace(NS).withName("someone-else").get()).isNotNull();
    assertThat(backend.recover("cx-uid", lease.sandboxId())).isEmpty();
  }

  // ---- lifecycle ----

  @Test
  void idlePodsOfAnOutdatedTemplateAreReplaced() {
    SandboxProvider provider = provider("rolling", 1);
    provider
        .getSpec()
        .setRuntimes(List.of(runtime(Language.PYTHON, "localhost/sandbox-runtime:v1")));
    client.resource(provider).update();
    String uid = providerUid("rolling");
    // An idle pod left by an earlier configuration (older image, other hash), and a claimed one.
    Pod stale =
        new PodBuilder()
            .withMetadata(
                new ObjectMetaBuilder()
                    .withName("sbx-rolling-py-old")
                    .withNamespace(NS)
                    .withLabels(
                        Map.of(
                            ApiConstants.PROVIDER_UID_LABEL,
                            uid,
                            ApiConstants.LANGUAGE_LABEL,
                            "python",
                            ApiConstants.STATE_LABEL,
                            "idle",
                            SandboxPodTemplate.TEMPLATE_HASH_LABEL,
                            "0000000000000000"))
                    // Made by an earlier backend of this provider, so owned by it as every pool pod
                    // is.
                    .withOwnerReferences(
                        new io.fabric8.kubernetes.api.model.OwnerReferenceBuilder()
                            .withApiVersion(ApiConstants.API_VERSION)
                            .withKind(ApiConstants.KIND_SANDBOX_PROVIDER)
                            .withName("rolling")
                            .withUid(uid)
                            .withController(true)
                            .build())
                    .build())
            .withNewSpec()
            .addNewContainer()
            .withName("sandbox")
            .withImage("localhost/sandbox-runtime:v0")
            .endContainer()
            .endSpec()
            .build();
    client.resource(stale).create();
    client
        .resource(
            new PodBuilder(stale)
                .editMetadata()
                .withName("sbx-rolling-py-busy")
                .addToLabels(ApiConstants.STATE_LABEL, "claimed")
                .addToAnnotations(
                    SandboxPodTemplate.CLAIMED_AT_ANNOTATION, java.time.Instant.now().toString())
                .endMetadata()
                .build())
        .create();

    readyBackend(provider);

    await().until(() -> client.pods().inNamespace(NS).withName("sbx-rolling-py-old").get() == null);
    List<Pod> current =
        await()
            .until(
                () ->
                    pods().stream()
                        .filter(
                            p ->
                                "idle"
                                    .equals(
                                        p.getMetadata().getLabels().get(ApiConstants.STATE_LABEL)))
                        .toList(),
                l -> l.size() == 1);
    assertThat(current.get(0).getSpec().getContainers().get(0).getImage())
        .isEqualTo("localhost/sandbox-runtime:v1");
    // A pod running an execution is never rolled out from under it.
    assertThat(client.pods().inNamespace(NS).withName("sbx-rolling-py-busy").get()).isNotNull();
  }

  @Test
  void closeDeletesIdlePodsAndLeavesClaimedOnesToTheirRuns() {
    SelfManagedSandboxBackend backend = warmBackend("closing", 2);
    SandboxLease lease = claim(backend, Language.PYTHON);
    SandboxLease unused = claim(backend, Language.JAVASCRIPT);
    awaitPods(this::pods, 6); // 4 warm + the 2 replacements

    backend.close();

    await()
        .untilAsserted(
            () ->
                assertThat(pods())
                    .extracting(p -> p.getMetadata().getName())
                    .containsExactlyInAnyOrder(lease.sandboxId(), unused.sandboxId()));
    assertThat(backend.tryAcquire(Language.PYTHON)).isEmpty();
    // A lease given back after close is not returned to a pool that no longer exists.
    unused.release();
    await()
        .untilAsserted(
            () ->
                assertThat(pods())
                    .extracting(p -> p.getMetadata().getName())
                    .containsExactly(lease.sandboxId()));
    // A run that started on a closed backend still has its deadline and still deletes its pod.
    exec.script((pod, command, stdin, stdout, stderr) -> new CompletableFuture<>());
    assertThat(
            backend
                .execute(
                    lease,
                    request(Language.PYTHON, "def main(): pass\n", "{}", 1),
                    RunControl.detached())
                .termination())
        .isEqualTo(Termination.TIMED_OUT);
    await().until(() -> pods().isEmpty());
  }

  @Test
  void theNetworkPolicyDeniesAllTrafficByDefault() {
    readyBackend(provider("sealed", 1));
    NetworkPolicy policy =
        client.network().v1().networkPolicies().inNamespace(NS).withName("sbx-sealed").get();
    assertThat(policy).isNotNull();
    assertThat(policy.getSpec().getPodSelector().getMatchLabels())
        .containsExactly(Map.entry(ApiConstants.PROVIDER_UID_LABEL, providerUid("sealed")));
    assertThat(policy.getSpec().getPolicyTypes()).containsExactlyInAnyOrder("Ingress", "Egress");
    assertThat(policy.getSpec().getIngress()).isNullOrEmpty();
    assertThat(policy.getSpec().getEgress()).isNullOrEmpty();
    assertThat(policy.getMetadata().getOwnerReferences())
        .singleElement()
        .satisfies(o -> assertThat(o.getUid()).isEqualTo(providerUid("sealed")));
  }

  @Test
  void theNetworkPolicyAllowsExactlyTheListedEgressCidrs() {
    SandboxProvider provider = provider("egress", 1);
    EgressSpec egress = new EgressSpec();
    egress.setPolicy(EgressPolicy.ALLOW_LIST);
    egress.setAllowedCidrs(List.of("10.0.0.0/8", "192.168.1.0/24"));
    provider.getSpec().getSelfManaged().setEgress(egress);
    SelfManagedSandboxBackend backend = readyBackend(provider);
    assertThat(backend.startIfReady(backend.probe()).message())
        .contains("egress to 10.0.0.0/8, 192.168.1.0/24 only");

    NetworkPolicy policy =
        client.network().v1().networkPolicies().inNamespace(NS).withName("sbx-egress").get();
    assertThat(policy.getSpec().getIngress()).isNullOrEmpty();
    assertThat(policy.getSpec().getEgress())
        .singleElement()
        .satisfies(
            rule ->
                assertThat(rule.getTo())
                    .extracting(peer -> peer.getIpBlock().getCidr())
                    .containsExactly("10.0.0.0/8", "192.168.1.0/24"));
  }

  @Test
  void anEgressAllowListOnARuntimeClassWithoutPodNetworkIsRefusedAndCreatesNoPod() {
    // The local cluster's gVisor RuntimeClass: runsc --network=none, declared by its annotation.
    client
        .resource(
            new RuntimeClassBuilder()
                .withNewMetadata()
                .withName("gvisor")
                .addToAnnotations(ApiConstants.POD_NETWORK_ANNOTATION, "none")
                .endMetadata()
                .withHandler("runsc")
                .build())
        .create();
    SandboxProvider provider = provider("netless", 1);
    EgressSpec egress = new EgressSpec();
    egress.setPolicy(EgressPolicy.ALLOW_LIST);
    egress.setAllowedCidrs(List.of("192.0.2.0/24"));
    provider.getSpec().getSelfManaged().setEgress(egress);
    SelfManagedSandboxBackend backend = backend(provider);

    ProbeResult probe = backend.startIfReady(backend.probe());
    assertThat(probe.ready()).isFalse();
    assertThat(probe.reason()).isEqualTo(SandboxProviderReason.EGRESS_UNSUPPORTED);
    assertThat(probe.message())
        .contains("192.0.2.0/24", "RuntimeClass gvisor", "no network", "Deny");
    assertThat(backend.tryAcquire(Language.PYTHON)).isEmpty();
    assertThat(pythonPods()).isEmpty();

    // The same RuntimeClass with egress denied is fine: loopback-only pods keep that promise.
    SandboxProvider sealed = provider("netless-sealed", 1);
    assertThat(backend(sealed).probe().ready()).isTrue();
  }

  @Test
  void aHandEditedNetworkPolicyIsPutBack() {
    SelfManagedSandboxBackend backend = readyBackend(provider("tampered", 1));
    client
        .network()
        .v1()
        .networkPolicies()
        .inNamespace(NS)
        .withName("sbx-tampered")
        .edit(
            p -> {
              p.getSpec().setPolicyTypes(List.of("Ingress"));
              return p;
            });
    backend.startIfReady(backend.probe());
    assertThat(
            client
                .network()
                .v1()
                .networkPolicies()
                .inNamespace(NS)
                .withName("sbx-tampered")
                .get()
                .getSpec()
                .getPolicyTypes())
        .containsExactlyInAnyOrder("Ingress", "Egress");
  }

  // ---- helpers ----

  private SandboxProvider provider(String name, int poolSize) {
    SandboxProvider provider = new SandboxProvider();
    provider.setMetadata(new ObjectMetaBuilder().withNamespace(NS).withName(name).build());
    SandboxProviderSpec spec = new SandboxProviderSpec();
    spec.setType(ProviderType.SELF_MANAGED);
    SelfManagedSpec selfManaged = new SelfManagedSpec();
    selfManaged.setPoolSize(poolSize);
    spec.setSelfManaged(selfManaged);
    provider.setSpec(spec);
    try {
      return client.resource(provider).create();
    } catch (KubernetesClientException e) {
      // The client retries a request whose answer timed out, as a slow mock server's can on a
      // loaded machine: the retried POST then finds the object its first attempt created.
      if (e.getCode() != 409) {
        throw e;
      }
      return client.resources(SandboxProvider.class).inNamespace(NS).withName(name).get();
    }
  }

  /**
   * The pool's own template for a provider, as the backend builds it (what a look-alike copies).
   */
  private SandboxPodTemplate template(SandboxProvider provider, Language language) {
    SandboxProvider stored =
        client
            .resources(SandboxProvider.class)
            .inNamespace(NS)
            .withName(provider.getMetadata().getName())
            .get();
    stored.setSpec(provider.getSpec());
    ProviderSettings settings = ProviderSettings.of(stored, OperatorConfig.defaults());
    return new SandboxPodTemplate(
        settings,
        stored.getMetadata().getUid(),
        SelfManagedSettings.of(stored.getSpec().getSelfManaged()),
        language,
        settings.runtime(language).orElseThrow().image());
  }

  private static RuntimeSpec runtime(Language language, String image) {
    RuntimeSpec runtime = new RuntimeSpec();
    runtime.setLanguage(language);
    runtime.setImage(image);
    return runtime;
  }

  private void runtimeClass(String name) {
    client
        .resource(
            new RuntimeClassBuilder()
                .withNewMetadata()
                .withName(name)
                .endMetadata()
                .withHandler("runsc")
                .build())
        .create();
  }

  private String providerUid(String name) {
    return client
        .resources(SandboxProvider.class)
        .inNamespace(NS)
        .withName(name)
        .get()
        .getMetadata()
        .getUid();
  }

  private SelfManagedSandboxBackend backend(SandboxProvider provider) {
    return backend(provider, client);
  }

  private SelfManagedSandboxBackend backend(SandboxProvider provider, KubernetesClient client) {
    return backend(provider, client, OperatorConfig.defaults());
  }

  private SelfManagedSandboxBackend backend(
      SandboxProvider provider, KubernetesClient client, OperatorConfig config) {
    SandboxProvider stored =
        client
            .resources(SandboxProvider.class)
            .inNamespace(NS)
            .withName(provider.getMetadata().getName())
            .get();
    stored.setSpec(provider.getSpec());
    BackendContext context =
        new BackendContext(
            stored.getMetadata().getUid(),
            ProviderSettings.of(stored, config),
            stored.getSpec(),
            Map.of(),
            config,
            client,
            capacitySignals::incrementAndGet,
            ServiceCallListener.NONE);
    SelfManagedSandboxBackend backend =
        new SelfManagedSandboxBackend(context, exec, sandboxDeathSettleWait);
    backends.add(backend);
    return backend;
  }

  /** A backend whose RuntimeClass exists and whose first probe passed. */
  private SelfManagedSandboxBackend readyBackend(SandboxProvider provider) {
    if (client
            .resources(io.fabric8.kubernetes.api.model.node.v1.RuntimeClass.class)
            .withName("gvisor")
            .get()
        == null) {
      runtimeClass("gvisor");
    }
    SelfManagedSandboxBackend backend = backend(provider);
    ProbeResult probe = backend.startIfReady(backend.probe());
    assertThat(probe.ready()).as(probe.message()).isTrue();
    assertThat(probe.reason()).isEqualTo(SandboxProviderReason.BACKEND_REACHABLE);
    return backend;
  }

  /** A ready backend whose pods the fake kubelet marks Ready as they appear. */
  private SelfManagedSandboxBackend warmBackend(String name, int poolSize) {
    kubelet();
    kubelet.start();
    SelfManagedSandboxBackend backend = readyBackend(provider(name, poolSize));
    await().until(() -> ready(backend) == 2 * poolSize);
    return backend;
  }

  private SandboxLease claim(SelfManagedSandboxBackend backend, Language language) {
    return await().until(() -> backend.tryAcquire(language), Optional::isPresent).get();
  }

  /** The pod's state label in the API server, or null when the pod is gone. */
  private String state(String podName) {
    Pod pod = client.pods().inNamespace(NS).withName(podName).get();
    return pod == null ? null : pod.getMetadata().getLabels().get(ApiConstants.STATE_LABEL);
  }

  private FakeKubelet kubelet() {
    if (kubelet == null) {
      kubelet = new FakeKubelet(client, NS);
    }
    return kubelet;
  }

  private static int warm(SelfManagedSandboxBackend backend) {
    return backend.pools().stream().mapToInt(p -> p.getWarm() == null ? 0 : p.getWarm()).sum();
  }

  private static int ready(SelfManagedSandboxBackend backend) {
    return backend.pools().stream().mapToInt(PoolStatus::getReady).sum();
  }

  private static PoolStatus pool(SelfManagedSandboxBackend backend, Language language) {
    return backend.pools().stream()
        .filter(p -> p.getLanguage() == language)
        .findFirst()
        .orElseThrow();
  }

  /**
   * Waits until there are exactly this many pods. More can only mean a pool that created too many,
   * which nothing here undoes: that fails at once instead of at the timeout.
   */
  private static List<Pod> awaitPods(Supplier<List<Pod>> which, int count) {
    return await()
        .failFast("more than " + count + " pods", () -> which.get().size() > count)
        .until(which::get, list -> list.size() == count);
  }

  private List<Pod> pods() {
    return client
        .pods()
        .inNamespace(NS)
        .withLabel(ApiConstants.MANAGED_BY_LABEL, ApiConstants.MANAGED_BY_VALUE)
        .list()
        .getItems()
        .stream()
        .filter(p -> p.getMetadata().getDeletionTimestamp() == null)
        .toList();
  }

  private List<Pod> pythonPods() {
    return pods().stream()
        .filter(p -> "python".equals(p.getMetadata().getLabels().get(ApiConstants.LANGUAGE_LABEL)))
        .toList();
  }

  private static ExecutionRequest request(
      Language language, String code, String argumentsJson, int timeoutSeconds) {
    return request(language, ExecutionMode.FUNCTION, code, argumentsJson, timeoutSeconds);
  }

  private static String nonceOf(byte[] envelope) {
    try {
      return JSON.readTree(envelope).get("nonce").asText();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** Children the code left running locally (no pod deletion kills them here). */
  private static void killLocally(long pid) {
    if (pid > 0) {
      ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
    }
  }

  private static ExecutionRequest request(
      Language language,
      ExecutionMode mode,
      String code,
      String argumentsJson,
      int timeoutSeconds) {
    try {
      return new ExecutionRequest(
          NS,
          "cx",
          "uid-1",
          language,
          mode,
          "main",
          code,
          JSON.readTree(argumentsJson),
          Duration.ofSeconds(timeoutSeconds),
          65536);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
