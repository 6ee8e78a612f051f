package dev.sandboxes.operator.sandboxprovider;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.api.v1alpha1.SandboxProviderReason;
import dev.sandboxes.api.v1alpha1.SecretReference;
import dev.sandboxes.operator.backend.ProbeResult;
import dev.sandboxes.operator.backend.SandboxBackendFactory;
import dev.sandboxes.operator.config.IsolationPolicy;
import dev.sandboxes.operator.config.OperatorConfig;
import dev.sandboxes.operator.testing.FakeSandboxBackend;
import dev.sandboxes.operator.testing.OperatorMockTest;
import dev.sandboxes.operator.testing.TestResources;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** SandboxProvider readiness on the CRUD mock server: validation, Secrets, probes, replacement. */
@Tag("mock")
class SandboxProviderReconcilerMockTest extends OperatorMockTest {

  private final List<FakeSandboxBackend> created = new CopyOnWriteArrayList<>();
  private final Map<String, Map<String, String>> secretsSeen = new ConcurrentHashMap<>();
  private volatile ProbeResult probe = ProbeResult.reachable("fake backend answered");

  @BeforeEach
  void start() {
    startOperator(fakeBackends());
  }

  private SandboxBackendFactory fakeBackends() {
    return new SandboxBackendFactory()
        .register(
            ProviderType.DOCKER,
            context -> {
              context.secrets().forEach(secretsSeen::put);
              FakeSandboxBackend backend =
                  new FakeSandboxBackend(1).probe(probe).builtFrom(context);
              created.add(backend);
              return backend;
            });
  }

  @Test
  void aReachableBackendMakesTheProviderReadyWithPoolCounts() {
    client.resource(TestResources.aDockerProvider("default", "p")).create();
    SandboxProvider provider =
        awaitReady("p", "True", SandboxProviderReason.BACKEND_REACHABLE.value());
    assertThat(provider.getStatus().getObservedGeneration())
        .isEqualTo(provider.getMetadata().getGeneration());
    assertThat(provider.getStatus().getLastProbeTime()).isNotNull();
    assertThat(provider.getStatus().getPools())
        .singleElement()
        .satisfies(pool -> assertThat(pool.getReady()).isEqualTo(1));
    assertThat(created.get(0).started()).as("put in service after its ready probe").isTrue();
  }

  @Test
  void aFailedProbeIsNotReadyWithTheBackendsReason() {
    probe =
        ProbeResult.notReady(
            SandboxProviderReason.BACKEND_UNREACHABLE,
            "The Docker API at unix:///x did not answer");
    client.resource(TestResources.aDockerProvider("default", "down")).create();
    SandboxProvider provider =
        awaitReady("down", "False", SandboxProviderReason.BACKEND_UNREACHABLE.value());
    assertThat(
            Conditions.get(provider.getStatus().getConditions(), "Ready")
                .orElseThrow()
                .getMessage())
        .contains("did not answer");
    assertThat(created.get(0).started())
        .as("a backend that is not ready is not put in service")
        .isFalse();
  }

  @Test
  void aMissingSecretIsNamedAndTheProviderBecomesReadyWhenItAppears() {
    SandboxProvider provider = TestResources.aDockerProvider("default", "tls");
    provider.getSpec().getDocker().setHost("tcp://engine:2376");
    SecretReference ref = new SecretReference();
    ref.setName("engine-tls");
    provider.getSpec().getDocker().setTlsSecretRef(ref);
    client.resource(provider).create();
    SandboxProvider waiting =
        awaitReady("tls", "False", SandboxProviderReason.CREDENTIALS_MISSING.value());
    assertThat(
            Conditions.get(waiting.getStatus().getConditions(), "Ready").orElseThrow().getMessage())
        .contains("Secret engine-tls")
        .contains("spec.docker.tlsSecretRef");

    client
        .resource(
            new SecretBuilder()
                .withNewMetadata()
                .withName("engine-tls")
                .withNamespace("default")
                .endMetadata()
                .addToStringData("ca.crt", "CA")
                .addToStringData("tls.crt", "CERT")
                .build())
        .create();
    SandboxProvider stillWaiting =
        awaitReady("tls", "False", SandboxProviderReason.CREDENTIALS_MISSING.value());
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () ->
                assertThat(
                        Conditions.get(provider("tls").getStatus().getConditions(), "Ready")
                            .orElseThrow()
                            .getMessage())
                    .contains("no key tls.key"));
    assertThat(stillWaiting).isNotNull();

    client
        .resource(
            new SecretBuilder()
                .withNewMetadata()
                .withName("engine-tls")
                .withNamespace("default")
                .endMetadata()
                .addToStringData("ca.crt", "CA")
                .addToStringData("tls.crt", "CERT")
                .addToStringData("tls.key", "KEY")
                .build())
        .update();
    awaitReady("tls", "True", SandboxProviderReason.BACKEND_REACHABLE.value());
    assertThat(secretsSeen.get("engine-tls")).containsEntry("tls.key", "KEY");
    // Nothing from the Secret is copied into the status.
    assertThat(client.resource(provider("tls")).get().getStatus().toString())
        .doesNotContain("KEY")
        .doesNotContain("CERT");
  }

  @Test
  void anInvalidSpecIsNotReadyAndNamesTheField() {
    SandboxProvider provider = TestResources.aDockerProvider("default", "bad");
    provider.getSpec().getDocker().setHost("http://nope");
    client.resource(provider).create();
    SandboxProvider status = awaitReady("bad", "False", SandboxProviderReason.INVALID_SPEC.value());
    assertThat(
            Conditions.get(status.getStatus().getConditions(), "Ready").orElseThrow().getMessage())
        .contains("spec.docker.host");
    assertThat(created).isEmpty();
  }

  @Test
  void aSpecChangeReplacesTheBackendAndDeletionClosesIt() {
    client.resource(TestResources.aDockerProvider("default", "p")).create();
    awaitReady("p", "True", SandboxProviderReason.BACKEND_REACHABLE.value());
    SandboxProvider changed = provider("p");
    changed.getSpec().getDocker().setPoolSize(5);
    client.resource(changed).update();
    await().atMost(Duration.ofSeconds(20)).until(() -> created.size() == 2);
    // The registry closes the old backend right after it built the new one, on the reconcile
    // thread.
    await().atMost(Duration.ofSeconds(5)).until(() -> created.get(0).closed());
    client.resource(provider("p")).delete();
    await().atMost(Duration.ofSeconds(20)).until(() -> created.get(1).closed());
  }

  @Test
  void aProviderAskingForWeakerIsolationThanThePolicyAllowsIsNotReadyAndNamesTheField() {
    SandboxProvider runc = TestResources.aDockerProvider("default", "runc");
    runc.getSpec().getDocker().setRuntime("runc");
    client.resource(runc).create();
    SandboxProvider plainTcp = TestResources.aDockerProvider("default", "plain-tcp");
    plainTcp.getSpec().getDocker().setHost("tcp://engine:2375");
    plainTcp.getSpec().getDocker().setNetwork("bridge");
    client.resource(plainTcp).create();
    SandboxProvider pods = TestResources.aSelfManagedProvider("default", "runc-pods", 1);
    pods.getSpec().getSelfManaged().setRuntimeClassName("runc");
    client.resource(pods).create();

    assertThat(
            readyMessage(
                awaitReady("runc", "False", SandboxProviderReason.POLICY_VIOLATION.value())))
        .contains("spec.docker.runtime runc")
        .contains("allowed runtimes: runsc");
    assertThat(
            readyMessage(
                awaitReady("plain-tcp", "False", SandboxProviderReason.POLICY_VIOLATION.value())))
        .contains("spec.docker.host tcp://engine:2375")
        .contains("spec.docker.network bridge");
    assertThat(
            readyMessage(
                awaitReady("runc-pods", "False", SandboxProviderReason.POLICY_VIOLATION.value())))
        .contains("spec.selfManaged.runtimeClassName runc")
        .contains("allowed RuntimeClasses: gvisor");
    // No backend is ever built for them: nothing connects to the engine, no pod is created.
    assertThat(created).isEmpty();
    await()
        .untilAsserted(
            () ->
                assertThat(client.events().v1().events().inNamespace("default").list().getItems())
                    .anySatisfy(
                        e -> {
                          assertThat(e.getReason()).isEqualTo("PolicyViolation");
                          assertThat(e.getRegarding().getName()).isEqualTo("runc");
                        }));
  }

  @Test
  void theClustersOperatorCanAllowMoreExplicitly() {
    stopOperator();
    startOperator(
        fakeBackends(),
        OperatorConfig.defaults()
            .withIsolationPolicy(
                IsolationPolicy.fromEnvironment(
                    Map.of(IsolationPolicy.ENV_DOCKER_RUNTIMES, "runsc,runc"))));
    SandboxProvider runc = TestResources.aDockerProvider("default", "runc-allowed");
    runc.getSpec().getDocker().setRuntime("runc");
    client.resource(runc).create();
    awaitReady("runc-allowed", "True", SandboxProviderReason.BACKEND_REACHABLE.value());
  }

  private static String readyMessage(SandboxProvider provider) {
    return Conditions.get(provider.getStatus().getConditions(), "Ready").orElseThrow().getMessage();
  }
}
