package dev.sandboxes.operator.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sandboxes.api.v1alpha1.CodeExecutionReason;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.PoolStatus;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.api.v1alpha1.SandboxProviderStatus;
import dev.sandboxes.operator.backend.ProbeResult;
import dev.sandboxes.operator.backend.RunControl;
import dev.sandboxes.operator.backend.SandboxBackend;
import dev.sandboxes.operator.backend.SandboxBackendFactory;
import dev.sandboxes.operator.backend.SandboxLease;
import dev.sandboxes.operator.codeexecution.ExecutionQueue;
import dev.sandboxes.operator.config.OperatorConfig;
import dev.sandboxes.operator.execution.ExecutionOutcome;
import dev.sandboxes.operator.execution.ExecutionRequest;
import dev.sandboxes.operator.provider.BackendContext;
import dev.sandboxes.operator.provider.ProviderSettings;
import dev.sandboxes.operator.provider.ServiceCallListener;
import dev.sandboxes.operator.sandboxprovider.ProviderRegistry;
import dev.sandboxes.operator.testing.TestResources;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The operator's meters as Prometheus scrapes them: names, tags, buckets, and what the gauges read.
 */
@Tag("unit")
class OperatorMetricsTest {

  private final MutableClock clock = new MutableClock(Instant.parse("2025-01-01T00:00:00Z"));
  private final PrometheusMeterRegistry prometheus =
      new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final StubBackend backend = new StubBackend();
  private final ProviderRegistry providers =
      new ProviderRegistry(
          new SandboxBackendFactory().register(ProviderType.DOCKER, backend::builtFrom), uid -> {});
  private final ExecutionQueue queue = new ExecutionQueue(id -> {});
  private final OperatorMetrics metrics = new OperatorMetrics(prometheus, providers, queue, clock);

  @Test
  void theMetersAlertsAndRatesNeedExistAtZeroBeforeAnythingHappens() {
    String scrape = prometheus.scrape();
    assertThat(scrape)
        .contains(
            "sandbox_codeexecution_completed_total{language=\"python\",outcome=\"SandboxFailed\",type=\"E2B\"} 0.0")
        .contains(
            "sandbox_codeexecution_completed_total{language=\"javascript\",outcome=\"Completed\",type=\"SelfManaged\"} 0.0")
        .contains("sandbox_saas_requests_total{outcome=\"Throttled\",type=\"Aliyun\"} 0.0")
        .contains("sandbox_provider_ready{type=\"Docker\"} 0.0")
        .contains("sandbox_provider_not_ready{type=\"Docker\"} 0.0")
        .contains("sandbox_provider_not_ready_longest_seconds{type=\"E2B\"} 0.0")
        .contains("sandbox_codeexecution_waiting{language=\"python\",type=\"SelfManaged\"} 0.0")
        .contains(
            "sandbox_codeexecution_waiting_oldest_seconds{language=\"python\",type=\"SelfManaged\"} 0.0")
        .contains("sandbox_codeexecution_running{type=\"Docker\"} 0.0")
        .contains("sandbox_pool_starting{language=\"python\",type=\"SelfManaged\"} 0.0")
        .contains("sandbox_backend_errors_total{reason=\"SandboxFailed\",type=\"Docker\"} 0.0");
    // SaaS call counters only for the types that call a service.
    assertThat(scrape)
        .doesNotContain("sandbox_saas_requests_total{outcome=\"Ok\",type=\"Docker\"}");
    // Histograms appear with the first execution.
    assertThat(scrape).doesNotContain("sandbox_codeexecution_duration_seconds");
  }

  @Test
  void latencyHistogramsHaveTwelveBoundsPlusInfinity() {
    metrics.executionStarted(ProviderType.DOCKER, Language.PYTHON, Duration.ofMillis(300));
    metrics.executionFinished(
        ProviderType.DOCKER, Language.PYTHON, CodeExecutionReason.COMPLETED, Duration.ofSeconds(3));
    String scrape = prometheus.scrape();
    List<String> durationBuckets = lines(scrape, "sandbox_codeexecution_duration_seconds_bucket{");
    assertThat(durationBuckets).hasSize(13);
    assertThat(durationBuckets.get(0)).contains("le=\"0.05\"");
    assertThat(durationBuckets.get(12)).contains("le=\"+Inf\"");
    assertThat(scrape)
        .contains(
            "sandbox_codeexecution_duration_seconds_bucket{language=\"python\",outcome=\"Completed\",type=\"Docker\",le=\"2.5\"} 0")
        .contains(
            "sandbox_codeexecution_duration_seconds_bucket{language=\"python\",outcome=\"Completed\",type=\"Docker\",le=\"5.0\"} 1")
        .contains(
            "sandbox_codeexecution_duration_seconds_count{language=\"python\",outcome=\"Completed\",type=\"Docker\"} 1")
        .contains(
            "sandbox_codeexecution_completed_total{language=\"python\",outcome=\"Completed\",type=\"Docker\"} 1.0");
    assertThat(lines(scrape, "sandbox_codeexecution_queue_wait_seconds_bucket{")).hasSize(13);
    assertThat(scrape)
        .contains(
            "sandbox_codeexecution_queue_wait_seconds_bucket{language=\"python\",type=\"Docker\",le=\"0.5\"} 1");
  }

  @Test
  void anInvalidExecutionCountsUnderTypeUnknownWithoutADuration() {
    metrics.executionFinished(null, Language.PYTHON, CodeExecutionReason.INVALID_SPEC, null);
    assertThat(prometheus.scrape())
        .contains(
            "sandbox_codeexecution_completed_total{language=\"python\",outcome=\"InvalidSpec\",type=\"unknown\"} 1.0")
        .doesNotContain(
            "sandbox_codeexecution_duration_seconds_count{language=\"python\",outcome=\"InvalidSpec\"");
  }

  @Test
  void providerReadinessComesFromTheWrittenStatusAndNotReadyTimeFromItsCondition() {
    SandboxProvider docker = provider("d1", ProviderType.DOCKER);
    SandboxProvider e2b = provider("e1", ProviderType.E2B);
    metrics.providerStatus(docker, status("True", clock.instant()));
    // Not Ready since 400 s ago, as its condition says (an operator restart keeps that time).
    metrics.providerStatus(e2b, status("False", clock.instant().minusSeconds(400)));
    assertThat(prometheus.scrape())
        .contains("sandbox_provider_ready{type=\"Docker\"} 1.0")
        .contains("sandbox_provider_not_ready{type=\"E2B\"} 1.0")
        .contains("sandbox_provider_not_ready_longest_seconds{type=\"E2B\"} 400.0")
        .contains("sandbox_provider_not_ready_longest_seconds{type=\"Docker\"} 0.0");

    clock.advance(Duration.ofSeconds(20));
    assertThat(prometheus.scrape())
        .contains("sandbox_provider_not_ready_longest_seconds{type=\"E2B\"} 420.0");

    metrics.providerStatus(e2b, status("True", clock.instant()));
    assertThat(prometheus.scrape())
        .contains("sandbox_provider_ready{type=\"E2B\"} 1.0")
        .contains("sandbox_provider_not_ready_longest_seconds{type=\"E2B\"} 0.0");
    metrics.providerDeleted("uid-e1");
    assertThat(prometheus.scrape()).contains("sandbox_provider_ready{type=\"E2B\"} 0.0");
  }

  @Test
  void aStatusWithoutATransitionTimeCountsFromWhenTheOperatorFirstSawItNotReady() {
    SandboxProvider e2b = provider("e1", ProviderType.E2B);
    metrics.providerStatus(e2b, null);
    clock.advance(Duration.ofSeconds(30));
    metrics.providerStatus(e2b, null);
    assertThat(prometheus.scrape())
        .contains("sandbox_provider_not_ready_longest_seconds{type=\"E2B\"} 30.0");
  }

  @Test
  void theWaitingGaugesShowHowManyWaitAndTheOldestAge() {
    String providerUid = startDockerProvider();
    backend.free = 0;
    admit(providerUid, "old", clock.instant().minusSeconds(90), Language.PYTHON);
    admit(providerUid, "young", clock.instant().minusSeconds(5), Language.PYTHON);
    admit(providerUid, "js", clock.instant().minusSeconds(7), Language.JAVASCRIPT);
    assertThat(prometheus.scrape())
        .contains("sandbox_codeexecution_waiting{language=\"python\",type=\"Docker\"} 2.0")
        .contains(
            "sandbox_codeexecution_waiting_oldest_seconds{language=\"python\",type=\"Docker\"} 90.0")
        .contains(
            "sandbox_codeexecution_waiting_oldest_seconds{language=\"javascript\",type=\"Docker\"} 7.0")
        .contains("sandbox_codeexecution_running{type=\"Docker\"} 0.0");

    backend.free = 1;
    assertThat(
            queue.admit(
                providerUid,
                entry("old", clock.instant().minusSeconds(90), Language.PYTHON),
                backend,
                null))
        .isInstanceOf(ExecutionQueue.Granted.class);
    assertThat(prometheus.scrape())
        .contains("sandbox_codeexecution_waiting{language=\"python\",type=\"Docker\"} 1.0")
        .contains(
            "sandbox_codeexecution_waiting_oldest_seconds{language=\"python\",type=\"Docker\"} 5.0")
        .contains("sandbox_codeexecution_running{type=\"Docker\"} 1.0");
  }

  @Test
  void poolGaugesSumTheBackendsIncludingSandboxesStillStarting() {
    startDockerProvider();
    backend.starting = Map.of(Language.PYTHON, 3);
    assertThat(prometheus.scrape())
        .contains("sandbox_pool_starting{language=\"python\",type=\"Docker\"} 3.0")
        .contains("sandbox_pool_starting{language=\"javascript\",type=\"Docker\"} 0.0");
  }

  @Test
  void poolCountsSumOverBackendsAndACountAPoolDoesNotReportAddsNothing() {
    startDockerProvider();
    PoolStatus python = new PoolStatus();
    python.setLanguage(Language.PYTHON);
    python.setReady(3);
    python.setWarm(2);
    python.setClaimed(1);
    python.setDesired(3);
    PoolStatus javascript = new PoolStatus();
    javascript.setLanguage(Language.JAVASCRIPT);
    javascript.setReady(1); // a pool without pre-started runners reports no warm count
    backend.pools = List.of(python, javascript);
    assertThat(prometheus.scrape())
        .contains("sandbox_pool_ready{language=\"python\",type=\"Docker\"} 3.0")
        .contains("sandbox_pool_warm{language=\"python\",type=\"Docker\"} 2.0")
        .contains("sandbox_pool_claimed{language=\"python\",type=\"Docker\"} 1.0")
        .contains("sandbox_pool_ready{language=\"javascript\",type=\"Docker\"} 1.0")
        .contains("sandbox_pool_warm{language=\"javascript\",type=\"Docker\"} 0.0")
        .contains("sandbox_pool_claimed{language=\"javascript\",type=\"Docker\"} 0.0");
  }

  @Test
  void serviceCallsOfABackendAreCountedByItsTypeAndOutcome() {
    // As the SandboxProvider reconciler builds the context: the calls are counted under the
    // provider's type.
    startDockerProvider(outcome -> metrics.serviceCall(ProviderType.DOCKER, outcome));
    backend.listener.called(ServiceCallListener.Outcome.THROTTLED);
    backend.listener.called(ServiceCallListener.Outcome.THROTTLED);
    backend.listener.called(ServiceCallListener.Outcome.OK);
    assertThat(prometheus.scrape())
        .contains("sandbox_saas_requests_total{outcome=\"Throttled\",type=\"Docker\"} 2.0")
        .contains("sandbox_saas_requests_total{outcome=\"Ok\",type=\"Docker\"} 1.0");
  }

  @Test
  void httpStatusesMapToOutcomes() {
    assertThat(ServiceCallListener.Outcome.ofStatus(200)).isEqualTo(ServiceCallListener.Outcome.OK);
    assertThat(ServiceCallListener.Outcome.ofStatus(204)).isEqualTo(ServiceCallListener.Outcome.OK);
    assertThat(ServiceCallListener.Outcome.ofStatus(429))
        .isEqualTo(ServiceCallListener.Outcome.THROTTLED);
    assertThat(ServiceCallListener.Outcome.ofStatus(404))
        .isEqualTo(ServiceCallListener.Outcome.NOT_FOUND);
    assertThat(ServiceCallListener.Outcome.ofStatus(401))
        .isEqualTo(ServiceCallListener.Outcome.CLIENT_ERROR);
    assertThat(ServiceCallListener.Outcome.ofStatus(503))
        .isEqualTo(ServiceCallListener.Outcome.SERVER_ERROR);
  }

  private String startDockerProvider() {
    return startDockerProvider(ServiceCallListener.NONE);
  }

  private String startDockerProvider(ServiceCallListener serviceCalls) {
    SandboxProvider provider = provider("d1", ProviderType.DOCKER);
    OperatorConfig config = OperatorConfig.defaults();
    providers.ensure(
        new BackendContext(
            "uid-d1",
            ProviderSettings.of(provider, config),
            provider.getSpec(),
            Map.of(),
            config,
            null,
            () -> {},
            serviceCalls),
        "fingerprint");
    return "uid-d1";
  }

  private void admit(String providerUid, String name, Instant created, Language language) {
    assertThat(queue.admit(providerUid, entry(name, created, language), backend, null))
        .isInstanceOf(ExecutionQueue.Waiting.class);
  }

  private static ExecutionQueue.Entry entry(String name, Instant created, Language language) {
    return new ExecutionQueue.Entry(new ResourceID(name, "ns"), "uid-" + name, created, language);
  }

  private static SandboxProvider provider(String name, ProviderType type) {
    SandboxProvider provider = TestResources.aDockerProvider("ns", name);
    provider.getSpec().setType(type);
    provider.getMetadata().setUid("uid-" + name);
    return provider;
  }

  private static SandboxProviderStatus status(String ready, Instant since) {
    SandboxProviderStatus status = new SandboxProviderStatus();
    status.setConditions(
        List.of(
            new ConditionBuilder()
                .withType(ConditionTypes.READY)
                .withStatus(ready)
                .withReason("Test")
                .withLastTransitionTime(since.toString())
                .build()));
    return status;
  }

  private static List<String> lines(String scrape, String prefix) {
    return scrape.lines().filter(l -> l.startsWith(prefix)).toList();
  }

  /** A backend whose capacity, starting sandboxes and service-call listener the test controls. */
  private static final class StubBackend implements SandboxBackend {
    volatile int free;
    volatile Map<Language, Integer> starting = Map.of();
    volatile List<PoolStatus> pools = List.of();
    volatile ServiceCallListener listener = ServiceCallListener.NONE;

    @Override
    public ProviderType type() {
      return ProviderType.DOCKER;
    }

    @Override
    public ProbeResult probe() {
      return ProbeResult.reachable("stub");
    }

    @Override
    public Optional<SandboxLease> tryAcquire(Language language) {
      if (free <= 0) {
        return Optional.empty();
      }
      free--;
      return Optional.of(
          new SandboxLease() {
            @Override
            public Language language() {
              return language;
            }

            @Override
            public String sandboxId() {
              return "stub";
            }

            @Override
            public void release() {}
          });
    }

    @Override
    public ExecutionOutcome execute(
        SandboxLease lease, ExecutionRequest request, RunControl control) {
      throw new UnsupportedOperationException("not run in this test");
    }

    @Override
    public Map<Language, Integer> startingSandboxes() {
      return starting;
    }

    @Override
    public List<PoolStatus> pools() {
      return pools;
    }

    /** Built from a context: reports its service calls to the context's listener. */
    StubBackend builtFrom(BackendContext context) {
      this.listener = context.serviceCallListener();
      return this;
    }

    @Override
    public void close() {}
  }

  /** A clock the test moves by hand. */
  private static final class MutableClock extends Clock {
    private volatile Instant now;

    MutableClock(Instant start) {
      this.now = start;
    }

    void advance(Duration duration) {
      now = now.plus(duration);
    }

    @Override
    public Instant instant() {
      return now;
    }

    @Override
    public ZoneOffset getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }
  }
}
