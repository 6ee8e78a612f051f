package dev.sandboxes.operator.metrics;

import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.PoolStatus;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.operator.sandboxprovider.ProviderRegistry;
import dev.sandboxes.operator.sandboxprovider.ProviderRuntime;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import java.time.Duration;
import java.util.function.ToIntFunction;

/**
 * The operator's own meters. Tags are bounded: provider type, language and outcome (a condition
 * reason) only; never names, uids or error strings. Updated in one place per fact: the status
 * write of a finished execution, the probe of a provider.
 */
public final class OperatorMetrics {

  private final MeterRegistry registry;

  public OperatorMetrics(MeterRegistry registry, ProviderRegistry providers) {
    this.registry = registry;
    new JvmMemoryMetrics().bindTo(registry);
    new JvmGcMetrics().bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
    for (ProviderType type : ProviderType.values()) {
      Gauge.builder("sandbox.provider.ready", providers, p -> count(p, type))
          .description("SandboxProviders of this type whose last probe succeeded")
          .tag("type", type.value())
          .register(registry);
      for (Language language : Language.values()) {
        pool(providers, type, language, "ready", PoolStatus::getReady, "Idle sandboxes ready to take an execution");
        pool(providers, type, language, "claimed", PoolStatus::getClaimed, "Sandboxes running an execution");
        pool(providers, type, language, "desired", PoolStatus::getDesired, "Idle sandboxes the pools aim to keep");
      }
    }
  }

  public MeterRegistry registry() {
    return registry;
  }

  /** A finished execution: outcome counter and run-duration timer. */
  public void executionFinished(ProviderType type, Language language, String outcome, Duration run) {
    Counter.builder("sandbox.codeexecution.completed")
        .description("CodeExecutions finished, by outcome (Completed or the failure reason)")
        .tags("type", tag(type), "language", tag(language), "outcome", outcome)
        .register(registry)
        .increment();
    if (run != null) {
      Timer.builder("sandbox.codeexecution.duration")
          .description("Time from Started to the final status")
          .tags("type", tag(type), "language", tag(language), "outcome", outcome)
          .publishPercentileHistogram()
          .register(registry)
          .record(run);
    }
  }

  /** An execution started: how long it waited from creation. */
  public void executionStarted(ProviderType type, Language language, Duration queueWait) {
    Timer.builder("sandbox.codeexecution.queue.wait")
        .description("Time from creation to Started (validation, provider, queue, sandbox)")
        .tags("type", tag(type), "language", tag(language))
        .publishPercentileHistogram()
        .register(registry)
        .record(queueWait.isNegative() ? Duration.ZERO : queueWait);
  }

  /** A backend failure: a failed probe or an execution whose sandbox failed. */
  public void backendError(ProviderType type, String reason) {
    if (reason == null) {
      reason = "unknown";
    }
    Counter.builder("sandbox.backend.errors")
        .description("Failed probes and sandbox failures, by reason")
        .tags("type", tag(type), "reason", reason)
        .register(registry)
        .increment();
  }

  private void pool(ProviderRegistry providers, ProviderType type, Language language, String what,
      ToIntFunction<PoolStatus> value, String description) {
    Gauge.builder("sandbox.pool." + what, providers, p -> poolSum(p, type, language, value))
        .description(description)
        .tags("type", type.value(), "language", language.value())
        .register(registry);
  }

  private static double count(ProviderRegistry providers, ProviderType type) {
    return providers.all().stream().filter(r -> r.settings().type() == type && r.ready()).count();
  }

  private static double poolSum(ProviderRegistry providers, ProviderType type, Language language,
      ToIntFunction<PoolStatus> value) {
    int sum = 0;
    for (ProviderRuntime runtime : providers.all()) {
      if (runtime.settings().type() != type) {
        continue;
      }
      for (PoolStatus pool : runtime.backend().pools()) {
        if (pool.getLanguage() == language) {
          sum += value.applyAsInt(pool);
        }
      }
    }
    return sum;
  }

  private static String tag(Object value) {
    return value == null ? "unknown" : value.toString();
  }
}
