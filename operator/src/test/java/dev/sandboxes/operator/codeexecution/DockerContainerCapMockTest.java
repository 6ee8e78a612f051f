package dev.sandboxes.operator.codeexecution;

import static dev.sandboxes.operator.testing.TestResources.anExecution;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.core.DefaultDockerClientConfig;
import com.github.dockerjava.core.DockerClientImpl;
import com.github.dockerjava.httpclient5.ApacheDockerHttpClient;
import dev.sandboxes.api.ApiConstants;
import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionReason;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.Phase;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.api.v1alpha1.RuntimeSpec;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.operator.backend.SandboxBackendFactory;
import dev.sandboxes.operator.backend.docker.DockerSandboxBackend;
import dev.sandboxes.operator.config.IsolationPolicy;
import dev.sandboxes.operator.config.OperatorConfig;
import dev.sandboxes.operator.testing.DockerEngines;
import dev.sandboxes.operator.testing.OperatorMockTest;
import dev.sandboxes.operator.testing.TestResources;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A burst of sleeping executions on a Docker provider with no concurrency limit of its own: the
 * operator's container cap holds them in Pending (WaitingForSandbox) instead of giving each one a
 * container. CodeExecutions on the CRUD mock server, containers on the real podman runc engine.
 */
@Tag("mock")
@Tag("engine")
class DockerContainerCapMockTest extends OperatorMockTest {

  private static final int CAP = 3;
  private static final int EXECUTIONS = 9;

  private ScheduledExecutorService sampler;

  @AfterEach
  void stop() {
    if (sampler != null) {
      sampler.shutdownNow();
    }
    stopOperator(Duration.ofSeconds(5));
  }

  @Test
  void sleepingExecutionsBeyondTheCapWaitInPendingInsteadOfGettingContainers() throws Exception {
    String host = DockerEngines.host("runc");
    // The product's policy with the cap lowered for the test, and runc allowed (the runc socket).
    IsolationPolicy policy =
        IsolationPolicy.defaults()
            .alsoAllowing(Set.of("runc"), Set.of(), Set.of())
            .withDockerMaxContainers(CAP);
    SandboxBackendFactory factory =
        new SandboxBackendFactory().register(ProviderType.DOCKER, DockerSandboxBackend::new);
    startOperator(factory, OperatorConfig.defaults().withIsolationPolicy(policy));

    SandboxProvider provider = TestResources.aDockerProvider("default", "capped");
    provider.getSpec().getDocker().setHost(host);
    provider.getSpec().getDocker().setRuntime("runc");
    provider.getSpec().getDocker().setPoolSize(1);
    RuntimeSpec python = new RuntimeSpec();
    python.setLanguage(Language.PYTHON);
    provider.getSpec().setRuntimes(List.of(python)); // no limits.maxConcurrentExecutions
    client.resource(provider).create();
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () -> {
              SandboxProvider p = provider("capped");
              return p.getStatus() != null
                  && Conditions.isTrue(p.getStatus().getConditions(), ConditionTypes.READY);
            });
    String providerUid = provider("capped").getMetadata().getUid();

    // While the burst runs: how many executions are Running at once, and how many containers the
    // engine holds for this provider.
    long burstMillis;
    AtomicInteger maxRunning = new AtomicInteger();
    AtomicInteger maxContainers = new AtomicInteger();
    AtomicInteger sawWaiting = new AtomicInteger();
    try (DockerClient docker = docker(host)) {
      sampler = Executors.newSingleThreadScheduledExecutor();
      sampler.scheduleWithFixedDelay(
          () -> {
            try {
              List<CodeExecution> all =
                  client.resources(CodeExecution.class).inNamespace("default").list().getItems();
              long running =
                  all.stream()
                      .filter(
                          cx ->
                              cx.getStatus() != null && cx.getStatus().getPhase() == Phase.RUNNING)
                      .count();
              long waiting =
                  all.stream()
                      .filter(
                          cx ->
                              cx.getStatus() != null
                                  && cx.getStatus().getPhase() == Phase.PENDING
                                  && CodeExecutionReason.WAITING_FOR_SANDBOX
                                      .value()
                                      .equals(
                                          Conditions.reason(
                                              cx.getStatus().getConditions(),
                                              ConditionTypes.SUCCEEDED)))
                      .count();
              maxRunning.accumulateAndGet((int) running, Math::max);
              if (waiting > 0) {
                sawWaiting.incrementAndGet();
              }
              int containers =
                  docker
                      .listContainersCmd()
                      .withShowAll(true)
                      .withLabelFilter(Map.of(ApiConstants.PROVIDER_UID_LABEL, providerUid))
                      .exec()
                      .size();
              maxContainers.accumulateAndGet(containers, Math::max);
            } catch (RuntimeException e) {
              // a sample lost to a busy mock server is just a sample
            }
          },
          0,
          100,
          TimeUnit.MILLISECONDS);

      long burstStart = System.nanoTime();
      IntStream.range(0, EXECUTIONS)
          .forEach(
              i -> {
                CodeExecution cx = anExecution("default", "sleeper-" + i, "capped");
                cx.getSpec()
                    .setCode("import time\ndef main(x):\n    time.sleep(2)\n    return x\n");
                cx.getSpec().setTimeoutSeconds(60);
                client.resource(cx).create();
              });

      await()
          .atMost(Duration.ofMinutes(3))
          .pollInterval(Duration.ofMillis(500))
          .until(
              () ->
                  client
                      .resources(CodeExecution.class)
                      .inNamespace("default")
                      .list()
                      .getItems()
                      .stream()
                      .allMatch(
                          cx ->
                              cx.getStatus() != null
                                  && cx.getStatus().getPhase() == Phase.SUCCEEDED));
      sampler.shutdownNow();
      burstMillis = (System.nanoTime() - burstStart) / 1_000_000;
    }

    assertThat(maxRunning.get()).as("executions running at once").isBetween(1, CAP);
    assertThat(sawWaiting.get())
        .as("samples that saw executions waiting for a sandbox")
        .isPositive();
    // Claimed (at most CAP) plus the idle pool (1) plus containers being started for it (at most
    // 2):
    // never one container per waiting execution.
    assertThat(maxContainers.get())
        .as("containers on the engine at once")
        .isLessThanOrEqualTo(CAP + 1 + 2);
    System.out.printf(
        "DockerContainerCapMockTest: %d sleeping executions, cap %d: at most %d running and %d"
            + " containers at once; all done in %d ms%n",
        EXECUTIONS, CAP, maxRunning.get(), maxContainers.get(), burstMillis);
  }

  @Test
  void theDefaultCapIsSixteenAndAProviderCanOnlyLowerIt() {
    IsolationPolicy policy = IsolationPolicy.defaults();
    assertThat(policy.dockerMaxContainers()).isEqualTo(16);
    assertThat(policy.dockerContainerCap(null)).isEqualTo(16);
    assertThat(policy.dockerContainerCap(4)).isEqualTo(4);
    assertThat(policy.dockerContainerCap(1000)).isEqualTo(16);
  }

  private static DockerClient docker(String host) {
    return DockerClientImpl.getInstance(
        DefaultDockerClientConfig.createDefaultConfigBuilder().withDockerHost(host).build(),
        new ApacheDockerHttpClient.Builder().dockerHost(URI.create(host)).build());
  }
}
