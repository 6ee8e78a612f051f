package dev.sandboxes.operator.e2e;

import static dev.sandboxes.operator.e2e.E2eCluster.kubectlResult;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.InstallCommand;
import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionReason;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.api.v1alpha1.SandboxProviderReason;
import dev.sandboxes.operator.e2e.ExecutionHistories.Stage;
import dev.sandboxes.operator.testing.ProjectPaths;
import dev.sandboxes.operator.testing.TestResources;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The chart installed with helm-java into a fresh namespace of the real cluster, running the
 * operator image in a pod: probes, /metrics, the RBAC it needs to reconcile (and no more: its log
 * must show no 403), a clean uninstall, and leader election between two replicas when the leader
 * pod is killed. Needs the image on the cluster's nodes: hack/test builds and loads it into the
 * local cluster and sets SANDBOX_E2E_OPERATOR_IMAGE; elsewhere set that variable to an image the
 * nodes have. Without it the test is skipped.
 */
@Tag("e2e")
class HelmInstallE2E {

  private static final Logger LOG = LoggerFactory.getLogger(HelmInstallE2E.class);
  private static final Path CHART = ProjectPaths.root().resolve("helm/sandbox-operator");
  private static final Duration POD_READY = Duration.ofSeconds(180);
  private static final String SELF_MANAGED = "gvisor-pool";
  private static final int BURST = 10;

  private E2eCluster cluster;

  /** Unique per test: the release's ClusterRoles are cluster-wide and named after it. */
  private String release;

  private String fullname;
  private boolean installed;

  @BeforeEach
  void open() {
    String image = System.getenv("SANDBOX_E2E_OPERATOR_IMAGE");
    assumeTrue(
        image != null && !image.isBlank(),
        "SANDBOX_E2E_OPERATOR_IMAGE is not set: build and load the operator image first"
            + " (hack/build-operator-image --load-local-cluster; hack/test does it for the local cluster)");
    cluster = E2eCluster.open("helm");
    release = "sbx-" + cluster.namespace().substring(cluster.namespace().lastIndexOf('-') + 1);
    fullname = release + "-sandbox-operator";
  }

  @AfterEach
  void close() {
    if (cluster == null) {
      return;
    }
    if (installed) {
      try {
        uninstall();
      } catch (RuntimeException e) {
        LOG.warn("helm uninstall failed: {}", e.toString());
      }
    }
    cluster.close();
  }

  @Test
  void theInstalledOperatorIsReadyServesMetricsReconcilesAndUninstallsCleanly() {
    install(Map.of());
    Pod pod = awaitReadyPods(1).get(0);

    String metrics = proxyGet(pod, "/metrics");
    // JOSDK's controller metrics and the operator's own, in the Prometheus text format.
    assertThat(metrics).contains("# TYPE").contains("operator_sdk_").contains("sandbox_");
    assertThat(proxyGet(pod, "/readyz")).isNotBlank();

    // The in-cluster operator can read Secrets, write provider status and events in the watched
    // namespace: an E2B provider whose Secret is missing gets Ready=False naming it.
    cluster.create(
        TestResources.anE2bProvider(
            cluster.namespace(),
            "e2b-no-secret",
            "https://api.e2b.invalid",
            "e2b-api-key-missing"));
    Condition ready = awaitReadyCondition("e2b-no-secret", "False");
    assertThat(ready.getReason()).isEqualTo(SandboxProviderReason.CREDENTIALS_MISSING.value());
    assertThat(ready.getMessage()).contains("e2b-api-key-missing");
    cluster.awaitEvent("SandboxProvider", "e2b-no-secret", "CredentialsMissing");

    // The examples, run by the in-cluster operator in SelfManaged sandbox pods.
    createSelfManagedProvider(1);
    String examples = ProjectPaths.root().resolve("examples").toString();
    for (String example :
        List.of(
            "hello-python",
            "hello-javascript",
            "script-mode",
            "code-from-configmap",
            "user-error")) {
      E2eCluster.kubectl(
          "apply", "-f", examples + "/" + example + ".yaml", "-n", cluster.namespace());
    }
    Map<String, String> expected =
        Map.of(
            "hello-python",
            CodeExecutionReason.COMPLETED.value(),
            "hello-javascript",
            CodeExecutionReason.COMPLETED.value(),
            "script-mode",
            CodeExecutionReason.COMPLETED.value(),
            "fibonacci",
            CodeExecutionReason.COMPLETED.value(),
            "user-error",
            CodeExecutionReason.USER_CODE_ERROR.value());
    expected.forEach(
        (name, reason) -> {
          CodeExecution cx = cluster.awaitTerminal(name, Duration.ofMinutes(3));
          assertThat(Conditions.reason(cx.getStatus().getConditions(), ConditionTypes.SUCCEEDED))
              .as("%s: %s", name, cx.getStatus().getMessage())
              .isEqualTo(reason);
          assertThat(cx.getStatus().getSandbox().getProvider()).isEqualTo(SELF_MANAGED);
          assertThat(cx.getStatus().getSandbox().getType()).isEqualTo(ProviderType.SELF_MANAGED);
        });
    assertThat(cluster.execution("hello-python").getStatus().getResult().get("greeting").asText())
        .isEqualTo("Hello, Wörld!");
    assertThat(cluster.execution("fibonacci").getStatus().getResult().asLong())
        .isEqualTo(2880067194370816120L);
    assertThat(cluster.execution("user-error").getStatus().getStderr())
        .contains("ZeroDivisionError");

    assertNoForbiddenInLogs();
    uninstall();
    assertReleaseObjectsGone();
  }

  /**
   * A SelfManaged provider from examples/, the namespace's default, with small pods so that a pool
   * fits the test node. Its RuntimeClass gvisor runs real gVisor on the local cluster
   * (docs/local-cluster.md).
   */
  private void createSelfManagedProvider(int poolSize) {
    SandboxProvider provider =
        cluster
            .client()
            .resources(SandboxProvider.class)
            .load(ProjectPaths.root().resolve("examples/providers/selfmanaged.yaml").toFile())
            .item();
    assertThat(provider.getMetadata().getName()).isEqualTo(SELF_MANAGED);
    // The example's own resources (1 CPU, 256Mi): under real gVisor a 100m limit throttles the
    // sandbox kernel too, and Node.js took more than hello-javascript's 10 s just to start. A pod
    // requests at most 100m CPU whatever its limit, so a burst still fits the node.
    provider.getSpec().getSelfManaged().setPoolSize(poolSize);
    cluster.create(TestResources.asDefault(provider));
    cluster.awaitReady(SELF_MANAGED);
  }

  /**
   * Two replicas with leader election: the leader pod is killed without a grace period in the
   * middle of a burst of SelfManaged executions; the other takes the Lease, and every execution
   * ends exactly once (Completed, or Interrupted when it ran on the killed leader).
   */
  @Test
  void theSecondReplicaTakesOverWhenTheLeaderPodIsKilledMidBurst() {
    install(Map.of("replicaCount", "2", "leaderElection.enabled", "true"));
    List<Pod> pods = awaitReadyPods(2);
    String leader = awaitLeaseHolder(null);
    assertThat(pods).extracting(p -> p.getMetadata().getName()).contains(leader);
    createSelfManagedProvider(2);

    try (ExecutionHistories histories = new ExecutionHistories(cluster, "burst-")) {
      List<String> names = histories.createSleepers(BURST, SELF_MANAGED);
      Map<Stage, Long> atKill = histories.awaitMidBurst(BURST, 1, Duration.ofMinutes(3));
      long killedAt = System.nanoTime();
      E2eCluster.kubectl(
          "delete",
          "pod",
          leader,
          "-n",
          cluster.namespace(),
          "--grace-period=0",
          "--force",
          "--wait=false");
      String successor = awaitLeaseHolder(leader);
      long takeoverMillis = (System.nanoTime() - killedAt) / 1_000_000;
      // The other replica, or the Deployment's replacement for the killed pod if it wins the race.
      assertThat(successor).isNotEqualTo(leader);
      assertThat(cluster.client().pods().inNamespace(cluster.namespace()).withName(successor).get())
          .isNotNull();
      histories.awaitAllTerminal(names, Duration.ofMinutes(4), this::describe);
      long allTerminalMillis = (System.nanoTime() - killedAt) / 1_000_000;
      Map<String, Long> outcomes = histories.assertSleepersEndedOnce(names);
      LOG.info(
          "leader pod {} killed with {}; {} holds the Lease after {} ms; all terminal after {} ms; {}",
          leader,
          atKill,
          successor,
          takeoverMillis,
          allTerminalMillis,
          outcomes);
      System.out.printf(
          "HelmInstallE2E: leader pod killed with %s; Lease taken after %d ms; all %d terminal %d ms"
              + " after the kill; outcomes %s%n",
          atKill, takeoverMillis, BURST, allTerminalMillis, outcomes);
    }

    // The new leader reconciles.
    cluster.create(
        TestResources.anE2bProvider(
            cluster.namespace(), "after-takeover", "https://api.e2b.invalid", "missing-secret"));
    assertThat(awaitReadyCondition("after-takeover", "False").getMessage())
        .contains("missing-secret");
    assertNoForbiddenInLogs();
  }

  private void install(Map<String, String> extra) {
    String image = System.getenv("SANDBOX_E2E_OPERATOR_IMAGE");
    int colon = image.lastIndexOf(':');
    boolean tagged = colon > image.lastIndexOf('/');
    InstallCommand install =
        new Helm(CHART)
            .install()
            .withName(release)
            .withNamespace(cluster.namespace())
            .withKubeConfig(Path.of(System.getenv("KUBECONFIG")))
            // The CRDs are cluster-wide and installed by E2eCluster; Helm never upgrades or removes
            // them.
            .skipCrds()
            .set("image.repository", tagged ? image.substring(0, colon) : image)
            .set("image.tag", tagged ? image.substring(colon + 1) : "latest")
            // Loaded into the node's containerd, not in any registry.
            .set("image.pullPolicy", "Never")
            // Only this namespace: other tests share the cluster, and this is the per-namespace
            // Role path.
            .set("watchNamespaces[0]", cluster.namespace())
            .set("operator.logLevel", "INFO")
            .withTimeout(120);
    extra.forEach(install::set);
    install.call();
    installed = true;
  }

  private void uninstall() {
    Helm.uninstall(release)
        .withNamespace(cluster.namespace())
        .withKubeConfig(Path.of(System.getenv("KUBECONFIG")))
        .call();
    installed = false;
  }

  private List<Pod> awaitReadyPods(int count) {
    try {
      await(count + " operator pod(s) Ready")
          .atMost(POD_READY)
          .pollInterval(Duration.ofSeconds(1))
          .until(() -> readyPods().size() == count);
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      throw new AssertionError(e.getMessage() + "\n" + describe(), e);
    }
    Deployment deployment =
        cluster
            .client()
            .apps()
            .deployments()
            .inNamespace(cluster.namespace())
            .withName(fullname)
            .get();
    assertThat(deployment.getStatus().getReadyReplicas()).isEqualTo(count);
    return readyPods();
  }

  private List<Pod> readyPods() {
    return cluster
        .client()
        .pods()
        .inNamespace(cluster.namespace())
        .withLabel("app.kubernetes.io/instance", release)
        .list()
        .getItems()
        .stream()
        .filter(
            p ->
                p.getMetadata().getDeletionTimestamp() == null
                    && p.getStatus() != null
                    && p.getStatus().getConditions() != null
                    && p.getStatus().getConditions().stream()
                        .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus())))
        .toList();
  }

  private String describe() {
    return kubectlResult(
                "describe",
                "pods",
                "-n",
                cluster.namespace(),
                "-l",
                "app.kubernetes.io/instance=" + release)
            .output()
        + "\n"
        + kubectlResult(
                "logs",
                "-n",
                cluster.namespace(),
                "-l",
                "app.kubernetes.io/instance=" + release,
                "--tail=80")
            .output();
  }

  /** GET through the API server's pod proxy to the operator's health port. */
  private String proxyGet(Pod pod, String path) {
    return cluster
        .client()
        .raw(
            "/api/v1/namespaces/"
                + cluster.namespace()
                + "/pods/"
                + pod.getMetadata().getName()
                + ":8080/proxy"
                + path);
  }

  private Condition awaitReadyCondition(String provider, String status) {
    Condition[] found = new Condition[1];
    await("SandboxProvider " + provider + " Ready=" + status)
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(500))
        .until(
            () -> {
              SandboxProvider p = cluster.provider(provider);
              Optional<Condition> ready =
                  p == null || p.getStatus() == null
                      ? Optional.empty()
                      : Conditions.get(p.getStatus().getConditions(), ConditionTypes.READY);
              found[0] = ready.orElse(null);
              return ready.isPresent() && status.equals(ready.get().getStatus());
            });
    return found[0];
  }

  private String awaitLeaseHolder(String other) {
    String[] holder = new String[1];
    await("Lease held" + (other == null ? "" : " by another pod than " + other))
        .atMost(Duration.ofSeconds(90))
        .pollInterval(Duration.ofMillis(250))
        .until(
            () -> {
              Lease lease =
                  cluster
                      .client()
                      .resources(Lease.class)
                      .inNamespace(cluster.namespace())
                      .withName("sandbox-operator")
                      .get();
              holder[0] =
                  lease == null || lease.getSpec() == null
                      ? null
                      : lease.getSpec().getHolderIdentity();
              return holder[0] != null && !holder[0].isBlank() && !holder[0].equals(other);
            });
    return holder[0];
  }

  /**
   * A missing permission shows as 403 Forbidden in the operator's log (informers retry quietly
   * otherwise).
   */
  private void assertNoForbiddenInLogs() {
    for (Pod pod : readyPods()) {
      String log =
          cluster
              .client()
              .pods()
              .inNamespace(cluster.namespace())
              .withName(pod.getMetadata().getName())
              .getLog();
      assertThat(log)
          .as("log of %s", pod.getMetadata().getName())
          .doesNotContain("Forbidden")
          .doesNotContain("forbidden")
          .doesNotContain(" 403 ");
    }
  }

  /**
   * Everything the release created, namespaced and cluster-wide, is gone (CRDs stay by Helm's
   * design).
   */
  /** Deleted, and the kubelet reports no container of it running. */
  private static boolean stoppedForGood(Pod pod) {
    return pod.getMetadata().getDeletionTimestamp() != null
        && pod.getStatus() != null
        && (pod.getStatus().getContainerStatuses() == null
            || pod.getStatus().getContainerStatuses().stream()
                .allMatch(c -> c.getState() == null || c.getState().getRunning() == null));
  }

  private void assertReleaseObjectsGone() {
    String selector = "app.kubernetes.io/instance";
    var client = cluster.client();
    String ns = cluster.namespace();
    await("release objects deleted")
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofSeconds(1))
        .untilAsserted(
            () -> {
              List<HasMetadata> left = new ArrayList<>();
              left.addAll(
                  client
                      .apps()
                      .deployments()
                      .inNamespace(ns)
                      .withLabel(selector, release)
                      .list()
                      .getItems());
              // A deleted pod whose containers have stopped counts as gone: kubelet 1.20 removes
              // the pod
              // object only after its one-minute container GC has removed the pod sandbox.
              left.addAll(
                  client
                      .pods()
                      .inNamespace(ns)
                      .withLabel(selector, release)
                      .list()
                      .getItems()
                      .stream()
                      .filter(p -> !stoppedForGood(p))
                      .toList());
              left.addAll(
                  client.services().inNamespace(ns).withLabel(selector, release).list().getItems());
              left.addAll(
                  client
                      .serviceAccounts()
                      .inNamespace(ns)
                      .withLabel(selector, release)
                      .list()
                      .getItems());
              left.addAll(
                  client
                      .rbac()
                      .roles()
                      .inNamespace(ns)
                      .withLabel(selector, release)
                      .list()
                      .getItems());
              left.addAll(
                  client
                      .rbac()
                      .roleBindings()
                      .inNamespace(ns)
                      .withLabel(selector, release)
                      .list()
                      .getItems());
              left.addAll(
                  client
                      .rbac()
                      .clusterRoles()
                      .withLabel(selector, release)
                      .list()
                      .getItems()
                      .stream()
                      .filter(r -> r.getMetadata().getName().startsWith(fullname))
                      .toList());
              left.addAll(
                  client
                      .rbac()
                      .clusterRoleBindings()
                      .withLabel(selector, release)
                      .list()
                      .getItems()
                      .stream()
                      .filter(r -> r.getMetadata().getName().startsWith(fullname))
                      .toList());
              assertThat(left)
                  .extracting(o -> o.getKind() + "/" + o.getMetadata().getName())
                  .isEmpty();
            });
  }
}
