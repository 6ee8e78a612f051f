package dev.sandboxes.operator.metrics;

import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.CodeExecutionReason;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.PoolStatus;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.api.v1alpha1.Reason;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.api.v1alpha1.SandboxProviderStatus;
import dev.sandboxes.operator.backend.SandboxBackend;
import dev.sandboxes.operator.provider.ServiceCallListener;
import io.fabric8.kubernetes.api.model.Condition;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.TimeGauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.ToDoubleFunction;

/**
 * The operator's own meters. Tags are bounded: provider type, language and outcome (a condition
 * reason or a service-call outcome) only; never names, uids or error strings. Each fact is recorded
 * in one place: the status write of a finished execution or of a provider, the start of an
 * execution, a SaaS backend's call; gauges read the queue, the pools and the provider states when
 * scraped. The meters the dashboard and the alerts need exist from the start (zero), so that rates
 * see the first event; histograms appear with the first execution.
 */
public final class OperatorMetrics {

  /**
   * Every reason a CodeExecution ends with: the values of the outcome tag of the completed counter.
   */
  public static final List<CodeExecutionReason> OUTCOMES =
      List.of(
          CodeExecutionReason.COMPLETED,
          CodeExecutionReason.USER_CODE_ERROR,
          CodeExecutionReason.TIMED_OUT,
          CodeExecutionReason.OUT_OF_MEMORY,
          CodeExecutionReason.OUTPUT_LIMIT_EXCEEDED,
          CodeExecutionReason.SANDBOX_FAILED,
          CodeExecutionReason.INTERRUPTED,
          CodeExecutionReason.INVALID_SPEC);

  /** Provider types whose backends call a SaaS service. */
  private static final Set<ProviderType> SAAS_TYPES =
      EnumSet.of(ProviderType.ALIYUN, ProviderType.E2B);

  /**
   * Bucket bounds of the two latency histograms: 12 bounds (plus +Inf) from 50 ms to 30 min, so a
   * series costs 15 samples, instead of the ~70 buckets of Micrometer's percentile histogram.
   */
  private static final Duration[] LATENCY_BUCKETS = {
    Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMillis(250), Duration.ofMillis(500),
    Duration.ofSeconds(1), Duration.ofMillis(2500), Duration.ofSeconds(5), Duration.ofSeconds(10),
    Duration.ofSeconds(30), Duration.ofSeconds(60), Duration.ofMinutes(5), Duration.ofMinutes(30)
  };

  /** The phase timer's name (exposed as sandbox_codeexecution_phase_seconds). */
  public static final String EXECUTION_PHASE_TIMER = "sandbox.codeexecution.phase";

  /** Bucket bounds of the phase histogram: an execution's phases take milliseconds to seconds. */
  private static final Duration[] PHASE_BUCKETS = {
    Duration.ofMillis(10), Duration.ofMillis(25), Duration.ofMillis(50), Duration.ofMillis(100),
    Duration.ofMillis(250), Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofSeconds(5),
    Duration.ofSeconds(30)
  };

  /** A provider's readiness as its last status write said. */
  private record ProviderState(ProviderType type, boolean ready, Instant notReadySince) {}

  private final MeterRegistry registry;
  private final MeteredProviders providers;
  private final MeteredQueue queue;
  private final Clock clock;
  private final Map<String, ProviderState> providerStates = new ConcurrentHashMap<>();

  public OperatorMetrics(
      MeterRegistry registry, MeteredProviders providers, MeteredQueue queue, Clock clock) {
    this.registry = registry;
    this.providers = providers;
    this.queue = queue;
    this.clock = clock;
    new JvmMemoryMetrics().bindTo(registry);
    new JvmGcMetrics().bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
    for (ProviderType type : ProviderType.values()) {
      registerProviderGauges(type);
      gauge(
          "sandbox.codeexecution.running",
          "Executions holding a sandbox (phase Running) in this operator",
          type,
          null,
          m -> m.running(type));
      for (Language language : Language.values()) {
        pool(
            type,
            language,
            "ready",
            PoolStatus::getReady,
            "Idle sandboxes ready to take an execution");
        pool(
            type,
            language,
            "warm",
            PoolStatus::getWarm,
            "Ready idle sandboxes whose runner is loaded and waiting (SelfManaged pools)");
        pool(type, language, "claimed", PoolStatus::getClaimed, "Sandboxes running an execution");
        pool(
            type,
            language,
            "desired",
            PoolStatus::getDesired,
            "Idle sandboxes the pools aim to keep");
        gauge(
            "sandbox.pool.starting",
            "Sandboxes being created, not yet ready to take an execution",
            type,
            language,
            m -> m.starting(type, language));
        gauge(
            "sandbox.codeexecution.waiting",
            "Executions waiting in the provider's queue for a sandbox or a concurrency slot (phase Pending)",
            type,
            language,
            m -> m.waitingCount(type, language));
        TimeGauge.builder(
                "sandbox.codeexecution.waiting.oldest",
                this,
                TimeUnit.SECONDS,
                m -> m.oldestWaitingSeconds(type, language))
            .description(
                "Age (since creation) of the oldest execution waiting for a sandbox; 0 when none waits")
            .tags("type", type.value(), "language", language.value())
            .strongReference(true)
            .register(registry);
        for (CodeExecutionReason outcome : OUTCOMES) {
          completed(type.value(), language.value(), outcome.value());
        }
      }
      // Executions that ended SandboxFailed are backend errors of every type; probe failures
      // appear by their reason when they first happen.
      backendErrors(type, CodeExecutionReason.SANDBOX_FAILED.value());
      if (SAAS_TYPES.contains(type)) {
        for (ServiceCallListener.Outcome outcome : ServiceCallListener.Outcome.values()) {
          serviceCalls(type, outcome);
        }
      }
    }
  }

  public MeterRegistry registry() {
    return registry;
  }

  /** A finished execution: outcome counter and run-duration timer (no run, no duration). */
  public void executionFinished(
      ProviderType type, Language language, CodeExecutionReason outcome, Duration run) {
    completed(tag(type), tag(language), outcome.value()).increment();
    if (run != null) {
      Timer.builder("sandbox.codeexecution.duration")
          .description("Time from Started to the final status")
          .tags("type", tag(type), "language", tag(language), "outcome", outcome.value())
          .serviceLevelObjectives(LATENCY_BUCKETS)
          .register(registry)
          .record(run);
    }
  }

  /** An execution started: how long it waited from creation. */
  public void executionStarted(ProviderType type, Language language, Duration queueWait) {
    Timer.builder("sandbox.codeexecution.queue.wait")
        .description("Time from creation to Started (validation, provider, queue, sandbox)")
        .tags("type", tag(type), "language", tag(language))
        .serviceLevelObjectives(LATENCY_BUCKETS)
        .register(registry)
        .record(queueWait.isNegative() ? Duration.ZERO : queueWait);
  }

  /** The phases of a started execution's time in this operator, the phase timer's tag. */
  public enum ExecutionPhase {
    /**
     * The reconcile's decision → Started stored: complete read, admission, claim, Started write.
     */
    ADMIT,
    /** Started stored → the backend's run ended: envelope, code, exit status. */
    RUN,
    /** Run ended → final status stored: the reconcile it triggers, artifacts, the final write. */
    RECORD;

    /** The tag value: admit, run, record. */
    public String tag() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /** Where an execution's time went in this operator, by {@link ExecutionPhase}. */
  public void executionPhase(ProviderType type, ExecutionPhase phase, Duration took) {
    Timer.builder(EXECUTION_PHASE_TIMER)
        .description("Time an execution spent in each phase of the operator's work")
        .tags("type", tag(type), "phase", phase.tag())
        .serviceLevelObjectives(PHASE_BUCKETS)
        .register(registry)
        .record(took.isNegative() ? Duration.ZERO : took);
  }

  /** A backend failure: a failed probe or an execution whose sandbox failed. */
  public void backendError(ProviderType type, Reason reason) {
    backendErrors(type, reason.value()).increment();
  }

  private Counter backendErrors(ProviderType type, String reason) {
    return Counter.builder("sandbox.backend.errors")
        .description("Failed probes and sandbox failures, by reason")
        .tags("type", tag(type), "reason", reason)
        .register(registry);
  }

  /** A SaaS backend's call to its service ended. */
  public void serviceCall(ProviderType type, ServiceCallListener.Outcome outcome) {
    serviceCalls(type, outcome).increment();
  }

  /**
   * A provider's status was written (or found unchanged): remembers whether it is Ready and, when
   * not, since when (the Ready condition's lastTransitionTime, which survives operator restarts).
   */
  public void providerStatus(SandboxProvider provider, SandboxProviderStatus status) {
    String uid = provider.getMetadata().getUid();
    ProviderType type = provider.getSpec() == null ? null : provider.getSpec().getType();
    if (uid == null || type == null) {
      return;
    }
    Optional<Condition> ready =
        status == null
            ? Optional.empty()
            : Conditions.get(status.getConditions(), ConditionTypes.READY);
    if (ready.isPresent() && Conditions.TRUE.equals(ready.get().getStatus())) {
      providerStates.put(uid, new ProviderState(type, true, null));
      return;
    }
    ProviderState previous = providerStates.get(uid);
    Instant since =
        ready
            .map(Condition::getLastTransitionTime)
            .flatMap(OperatorMetrics::parse)
            .orElse(
                previous != null && !previous.ready() ? previous.notReadySince() : clock.instant());
    providerStates.put(uid, new ProviderState(type, false, since));
  }

  /** A provider is gone. */
  public void providerDeleted(String uid) {
    if (uid != null) {
      providerStates.remove(uid);
    }
  }

  private void registerProviderGauges(ProviderType type) {
    gauge(
        "sandbox.provider.ready",
        "SandboxProviders of this type whose Ready condition is True",
        type,
        null,
        m -> m.providerCount(type, true));
    gauge(
        "sandbox.provider.not.ready",
        "SandboxProviders of this type whose Ready condition is not True",
        type,
        null,
        m -> m.providerCount(type, false));
    TimeGauge.builder(
            "sandbox.provider.not.ready.longest",
            this,
            TimeUnit.SECONDS,
            m -> m.longestNotReadySeconds(type))
        .description(
            "How long the provider of this type that has been not Ready the longest has been so; 0 when all are Ready")
        .tags("type", type.value())
        .strongReference(true)
        .register(registry);
  }

  private Counter completed(String type, String language, String outcome) {
    return Counter.builder("sandbox.codeexecution.completed")
        .description("CodeExecutions finished, by outcome (Completed or the failure reason)")
        .tags("type", type, "language", language, "outcome", outcome)
        .register(registry);
  }

  private Counter serviceCalls(ProviderType type, ServiceCallListener.Outcome outcome) {
    return Counter.builder("sandbox.saas.requests")
        .description(
            "Calls of SaaS backends to their service, by outcome (Ok, Throttled, NotFound, ClientError, ServerError, Unreachable)")
        .tags("type", tag(type), "outcome", outcome.value())
        .register(registry);
  }

  private void gauge(
      String name,
      String description,
      ProviderType type,
      Language language,
      ToDoubleFunction<OperatorMetrics> value) {
    Gauge.Builder<OperatorMetrics> builder =
        Gauge.builder(name, this, value)
            .description(description)
            .tag("type", type.value())
            .strongReference(true);
    if (language != null) {
      builder.tag("language", language.value());
    }
    builder.register(registry);
  }

  private void pool(
      ProviderType type,
      Language language,
      String what,
      Function<PoolStatus, Integer> value,
      String description) {
    gauge(
        "sandbox.pool." + what, description, type, language, m -> m.poolSum(type, language, value));
  }

  private double providerCount(ProviderType type, boolean ready) {
    return providerStates.values().stream()
        .filter(s -> s.type() == type && s.ready() == ready)
        .count();
  }

  private double longestNotReadySeconds(ProviderType type) {
    Instant now = clock.instant();
    return providerStates.values().stream()
        .filter(s -> s.type() == type && !s.ready())
        .mapToDouble(s -> Math.max(0, Duration.between(s.notReadySince(), now).toMillis() / 1000.0))
        .max()
        .orElse(0);
  }

  private double running(ProviderType type) {
    return queue.runningByProvider().entrySet().stream()
        .filter(e -> typeOf(e.getKey()) == type)
        .mapToInt(Map.Entry::getValue)
        .sum();
  }

  private double waitingCount(ProviderType type, Language language) {
    return waiting(type, language).mapToInt(MeteredQueue.WaitingGroup::count).sum();
  }

  private double oldestWaitingSeconds(ProviderType type, Language language) {
    Instant now = clock.instant();
    return waiting(type, language)
        .mapToDouble(g -> Math.max(0, Duration.between(g.oldestCreated(), now).toMillis() / 1000.0))
        .max()
        .orElse(0);
  }

  private java.util.stream.Stream<MeteredQueue.WaitingGroup> waiting(
      ProviderType type, Language language) {
    return queue.waitingGroups().stream()
        .filter(g -> g.language() == language && typeOf(g.providerUid()) == type);
  }

  private ProviderType typeOf(String providerUid) {
    return providers.typeOf(providerUid).orElse(null);
  }

  private double starting(ProviderType type, Language language) {
    int sum = 0;
    for (SandboxBackend backend : providers.backends(type)) {
      sum += backend.startingSandboxes().getOrDefault(language, 0);
    }
    return sum;
  }

  /** The sum over the type's pools of this language; a pool that does not report it adds 0. */
  private double poolSum(
      ProviderType type, Language language, Function<PoolStatus, Integer> value) {
    int sum = 0;
    for (SandboxBackend backend : providers.backends(type)) {
      for (PoolStatus pool : backend.pools()) {
        if (pool.getLanguage() == language) {
          Integer count = value.apply(pool);
          sum += count == null ? 0 : count;
        }
      }
    }
    return sum;
  }

  private static Optional<Instant> parse(String timestamp) {
    try {
      return timestamp == null ? Optional.empty() : Optional.of(Instant.parse(timestamp));
    } catch (RuntimeException e) {
      return Optional.empty();
    }
  }

  private static String tag(Object value) {
    return value == null ? "unknown" : value.toString();
  }
}
