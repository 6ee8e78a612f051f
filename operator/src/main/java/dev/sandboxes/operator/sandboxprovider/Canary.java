package dev.sandboxes.operator.sandboxprovider;

import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.CanarySpec;
import dev.sandboxes.api.v1alpha1.CanaryStatus;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.api.v1alpha1.SandboxProviderReason;
import dev.sandboxes.api.v1alpha1.SandboxProviderSpec;
import dev.sandboxes.api.v1alpha1.SandboxProviderStatus;
import dev.sandboxes.operator.backend.CanaryRun;
import dev.sandboxes.operator.backend.RunControl;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The opt-in "test connection" of a provider (spec.canary): every intervalSeconds while the
 * provider is Ready, a tiny execution goes through the real backend (lease, sandbox, runner,
 * envelope, records, deletion) and its result is checked. Reported as the CanaryPassed condition,
 * with the latency in the message and in status.canary. Runs off the reconcile threads; the
 * reconciler asks {@link #schedule} and copies the last result into the status with {@link
 * #applyTo}.
 */
public final class Canary implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(Canary.class);

  /** Default seconds between runs. */
  public static final int DEFAULT_INTERVAL_SECONDS = 300;

  private static final class State {
    volatile Instant lastStart;
    volatile boolean running;
    volatile CanaryRun.Result last;
    volatile RunControl control;
  }

  private final Clock clock;
  private final Consumer<SandboxProvider> finished;
  private final Map<String, State> states = new ConcurrentHashMap<>();
  private final ExecutorService executor;

  /**
   * @param finished told (on the canary's thread) when a run ended, to reconcile the provider
   */
  public Canary(Clock clock, Consumer<SandboxProvider> finished) {
    this.clock = clock;
    this.finished = finished;
    AtomicInteger threads = new AtomicInteger();
    this.executor =
        Executors.newCachedThreadPool(
            r -> {
              Thread thread = new Thread(r, "canary-" + threads.incrementAndGet());
              thread.setDaemon(true);
              return thread;
            });
  }

  /**
   * Starts a run when the provider asks for a canary, is Ready and the last run started at least
   * intervalSeconds ago; returns how long until the next one is due (empty without a canary).
   */
  public Optional<Duration> schedule(SandboxProvider provider, ProviderRuntime runtime) {
    CanarySpec spec = provider.getSpec().getCanary();
    String uid = provider.getMetadata().getUid();
    if (spec == null) {
      forget(uid);
      return Optional.empty();
    }
    State state = states.computeIfAbsent(uid, k -> new State());
    Duration interval = interval(spec);
    Instant now = clock.instant();
    if (runtime == null || !runtime.ready()) {
      return Optional.of(interval);
    }
    synchronized (state) {
      if (state.running) {
        return Optional.of(interval);
      }
      if (state.lastStart != null && now.isBefore(state.lastStart.plus(interval))) {
        return Optional.of(Duration.between(now, state.lastStart.plus(interval)));
      }
      state.running = true;
      state.lastStart = now;
      state.control = new RunControl(id -> {});
    }
    Language language = language(provider.getSpec());
    RunControl control = state.control;
    try {
      executor.execute(
          () -> {
            try {
              state.last =
                  CanaryRun.run(runtime.backend(), runtime.settings(), language, control, clock);
              LOG.info(
                  "SandboxProvider {}: canary {}",
                  runtime.settings().displayName(),
                  state.last.message());
            } catch (RuntimeException e) {
              state.last =
                  new CanaryRun.Result(
                      false, "the canary could not run: " + e, 0, clock.instant(), language);
            } finally {
              state.running = false;
              finished.accept(provider);
            }
          });
    } catch (RejectedExecutionException closing) {
      state.running = false;
    }
    return Optional.of(interval);
  }

  /** The last finished run of a provider, if any. */
  public Optional<CanaryRun.Result> last(String providerUid) {
    State state = states.get(providerUid);
    return Optional.ofNullable(state == null ? null : state.last);
  }

  /** A deleted provider: its running canary is cancelled and its results forgotten. */
  public void forget(String providerUid) {
    State state = states.remove(providerUid);
    if (state != null && state.control != null) {
      state.control.cancel("The SandboxProvider no longer asks for a canary");
    }
  }

  @Override
  public void close() {
    states
        .values()
        .forEach(
            s -> {
              if (s.control != null) {
                s.control.cancel("The operator is shutting down");
              }
            });
    executor.shutdownNow();
  }

  // ---- status ----

  /**
   * Puts the last run into a status: CanaryPassed True/False with the latency and what failed,
   * Unknown (CanaryPending) before the first run, while the provider is not Ready, or when no
   * sandbox was free; status.canary with time and latency. Removes both without spec.canary.
   */
  public void applyTo(SandboxProvider provider, SandboxProviderStatus status, Instant now) {
    applyTo(
        provider.getSpec(),
        status,
        last(provider.getMetadata().getUid()).orElse(null),
        Conditions.isTrue(status.getConditions(), ConditionTypes.READY),
        provider.getMetadata().getGeneration() == null
            ? 1L
            : provider.getMetadata().getGeneration(),
        now);
  }

  /**
   * The pure part of {@link #applyTo(SandboxProvider, SandboxProviderStatus, Instant)}; also for
   * `run --canary`.
   */
  public static void applyTo(
      SandboxProviderSpec spec,
      SandboxProviderStatus status,
      CanaryRun.Result last,
      boolean ready,
      long generation,
      Instant now) {
    if (spec.getCanary() == null) {
      Conditions.get(status.getConditions(), ConditionTypes.CANARY_PASSED)
          .ifPresent(status.getConditions()::remove);
      status.setCanary(null);
      return;
    }
    if (last != null) {
      CanaryStatus canary = new CanaryStatus();
      canary.setLastRunTime(last.finishedAt().truncatedTo(ChronoUnit.SECONDS).toString());
      canary.setLatencyMillis(last.latencyMillis());
      canary.setLanguage(last.language());
      status.setCanary(canary);
    }
    String conditionStatus;
    SandboxProviderReason reason;
    String message;
    if (!ready) {
      conditionStatus = Conditions.UNKNOWN;
      reason = SandboxProviderReason.CANARY_PENDING;
      message =
          "The provider is not Ready; the canary runs once it is"
              + (last == null || last.passed() == null
                  ? "."
                  : " (the last one " + (last.passed() ? "passed" : "failed") + ").");
    } else if (last == null) {
      conditionStatus = Conditions.UNKNOWN;
      reason = SandboxProviderReason.CANARY_PENDING;
      message = "The first canary is running.";
    } else if (last.passed() == null) {
      conditionStatus = Conditions.UNKNOWN;
      reason = SandboxProviderReason.CANARY_PENDING;
      message = "The canary " + last.message() + ".";
    } else {
      conditionStatus = last.passed() ? Conditions.TRUE : Conditions.FALSE;
      reason =
          last.passed()
              ? SandboxProviderReason.CANARY_SUCCEEDED
              : SandboxProviderReason.CANARY_FAILED;
      message = capitalize(last.message()) + ".";
    }
    Conditions.set(
        status.getConditions(),
        ConditionTypes.CANARY_PASSED,
        conditionStatus,
        reason,
        message,
        generation,
        now);
  }

  /** spec.canary.language, else the first language in spec.runtimes, else python. */
  public static Language language(SandboxProviderSpec spec) {
    if (spec.getCanary() != null && spec.getCanary().getLanguage() != null) {
      return spec.getCanary().getLanguage();
    }
    if (spec.getRuntimes() != null
        && !spec.getRuntimes().isEmpty()
        && spec.getRuntimes().get(0).getLanguage() != null) {
      return spec.getRuntimes().get(0).getLanguage();
    }
    return Language.PYTHON;
  }

  static Duration interval(CanarySpec spec) {
    return Duration.ofSeconds(
        spec.getIntervalSeconds() == null ? DEFAULT_INTERVAL_SECONDS : spec.getIntervalSeconds());
  }

  private static String capitalize(String text) {
    return text.isEmpty() ? text : Character.toUpperCase(text.charAt(0)) + text.substring(1);
  }
}
