package dev.sandboxes.operator.sandboxprovider;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.api.v1alpha1.SandboxProviderReason;
import dev.sandboxes.operator.backend.ProbeResult;
import dev.sandboxes.operator.backend.SandboxBackendFactory;
import dev.sandboxes.operator.codeexecution.ExecutionQueue;
import dev.sandboxes.operator.config.OperatorConfig;
import dev.sandboxes.operator.events.EventRecorder;
import dev.sandboxes.operator.metrics.OperatorMetrics;
import dev.sandboxes.operator.testing.TestResources;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ErrorStatusUpdateControl;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.lang.reflect.Proxy;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * What a failed provider reconcile leaves in the status (JOSDK's updateErrorStatus), on the CRUD
 * mock.
 */
@Tag("mock")
@EnableKubernetesMockClient(crud = true)
class SandboxProviderErrorStatusMockTest {

  private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");

  KubernetesClient client;

  private final Clock clock = Clock.fixed(T0, ZoneOffset.UTC);
  private final ProviderRegistry registry =
      new ProviderRegistry(new SandboxBackendFactory(), uid -> {});
  private EventRecorder events;
  private SandboxProviderReconciler reconciler;

  @AfterEach
  void close() {
    reconciler.close();
    events.close();
  }

  @Test
  void aProviderNeverProbedSaysWhyItIsNotReadyYet() {
    reconciler = reconciler();
    SandboxProvider provider =
        client.resource(TestResources.aDockerProvider("default", "new")).create();

    ErrorStatusUpdateControl<SandboxProvider> control =
        reconciler.updateErrorStatus(
            provider, context(), new KubernetesClientException("secret value s3cr3t"));

    assertThat(control.isDefaultErrorProcessing()).as("JOSDK retries as usual").isTrue();
    Condition ready =
        Conditions.get(read("new").getStatus().getConditions(), ConditionTypes.READY).orElseThrow();
    assertThat(ready.getStatus()).isEqualTo("False");
    assertThat(ready.getReason()).isEqualTo(SandboxProviderReason.PROBING.value());
    assertThat(ready.getMessage())
        .contains("(KubernetesClientException) and retries")
        .doesNotContain("s3cr3t");
  }

  @Test
  void aProbedProviderKeepsItsObservation() {
    reconciler = reconciler();
    SandboxProvider provider =
        client.resource(TestResources.aDockerProvider("default", "probed")).create();
    provider.setStatus(
        SandboxProviderStatusCalculator.probed(
            provider, ProbeResult.reachable("answered"), null, T0));
    provider = client.resource(provider).updateStatus();

    reconciler.updateErrorStatus(provider, context(), new IllegalStateException("boom"));

    Condition ready =
        Conditions.get(read("probed").getStatus().getConditions(), ConditionTypes.READY)
            .orElseThrow();
    assertThat(ready.getStatus()).isEqualTo("True");
    assertThat(ready.getReason()).isEqualTo(SandboxProviderReason.BACKEND_REACHABLE.value());
  }

  private SandboxProviderReconciler reconciler() {
    events = new EventRecorder(client);
    OperatorMetrics metrics =
        new OperatorMetrics(
            new PrometheusMeterRegistry(PrometheusConfig.DEFAULT),
            registry,
            new ExecutionQueue(id -> {}),
            clock);
    return new SandboxProviderReconciler(
        registry, OperatorConfig.defaults(), events, metrics, clock, provider -> {});
  }

  /** A Context that offers the client only, which is all a status write needs. */
  @SuppressWarnings("unchecked")
  private Context<SandboxProvider> context() {
    return (Context<SandboxProvider>)
        Proxy.newProxyInstance(
            getClass().getClassLoader(),
            new Class<?>[] {Context.class},
            (proxy, method, args) ->
                switch (method.getName()) {
                  case "getClient" -> client;
                  case "eventSourceRetriever" -> null;
                  default -> throw new UnsupportedOperationException(method.getName());
                });
  }

  private SandboxProvider read(String name) {
    return client.resources(SandboxProvider.class).inNamespace("default").withName(name).get();
  }
}
