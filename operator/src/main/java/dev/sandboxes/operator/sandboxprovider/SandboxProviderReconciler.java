package dev.sandboxes.operator.sandboxprovider;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.api.v1alpha1.SandboxProviderReason;
import dev.sandboxes.api.v1alpha1.SandboxProviderStatus;
import dev.sandboxes.operator.backend.ProbeResult;
import dev.sandboxes.operator.common.TriggerEventSource;
import dev.sandboxes.operator.config.OperatorConfig;
import dev.sandboxes.operator.events.EventRecorder;
import dev.sandboxes.operator.events.EventRecorder.Type;
import dev.sandboxes.operator.metrics.OperatorMetrics;
import dev.sandboxes.operator.provider.BackendContext;
import dev.sandboxes.operator.provider.KubernetesReferencedObjects;
import dev.sandboxes.operator.provider.ProviderSettings;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.ErrorStatusUpdateControl;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reconciles SandboxProviders: validate, check the operator's isolation policy, read referenced
 * Secrets, keep one live backend per provider, probe it, and report Ready with pool counts.
 * Re-probes periodically and whenever the spec changes; a changed Secret is seen at the next
 * periodic reconcile (Secrets are read with GETs, never cached).
 */
@ControllerConfiguration(name = "sandboxprovider")
public class SandboxProviderReconciler implements Reconciler<SandboxProvider>, AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(SandboxProviderReconciler.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration NOT_READY_PROBE_INTERVAL = Duration.ofSeconds(10);
  private static final Duration POOL_STATUS_DELAY = Duration.ofSeconds(2);

  private final ProviderRegistry registry;
  private final OperatorConfig config;
  private final EventRecorder events;
  private final OperatorMetrics metrics;
  private final Clock clock;
  private final TriggerEventSource<SandboxProvider> triggers =
      new TriggerEventSource<>("provider-triggers");
  private final Canary canary;
  private final SandboxProviderStatusRecorder recorder = new SandboxProviderStatusRecorder();
  private final Consumer<SandboxProvider> readyListener;
  private final Map<String, Instant> lastProbeTimes = new ConcurrentHashMap<>();
  private final Set<String> poolRefreshPending = ConcurrentHashMap.newKeySet();
  private final ScheduledExecutorService scheduler =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread thread = new Thread(r, "provider-pool-status");
            thread.setDaemon(true);
            return thread;
          });

  /**
   * @param readyListener called (on a reconcile thread) each time a provider becomes ready in this
   *     process
   */
  public SandboxProviderReconciler(
      ProviderRegistry registry,
      OperatorConfig config,
      EventRecorder events,
      OperatorMetrics metrics,
      Clock clock,
      Consumer<SandboxProvider> readyListener) {
    this.registry = registry;
    this.readyListener = readyListener;
    this.metrics = metrics;
    this.config = config;
    this.events = events;
    this.clock = clock;
    this.canary =
        new Canary(clock, provider -> triggers.trigger(ResourceID.fromResource(provider)));
    recorder.subscribe((provider, before, after) -> metrics.providerStatus(provider, after));
    recorder.subscribe(this::recordPoolResizes);
    triggers.onDeleted(
        provider -> {
          canary.forget(provider.getMetadata().getUid());
          registry.remove(provider.getMetadata().getUid());
          lastProbeTimes.remove(provider.getMetadata().getUid());
          events.forget(provider.getMetadata().getUid());
          metrics.providerDeleted(provider.getMetadata().getUid());
        });
  }

  /**
   * No informer on Secrets: it would cache every Secret of the watched namespaces (and need list
   * and watch on all of them). Referenced Secrets are read with GETs on each reconcile instead,
   * which runs at least every probe interval, so a rotated or newly created Secret is picked up
   * within it.
   */
  @Override
  public List<EventSource<?, SandboxProvider>> prepareEventSources(
      EventSourceContext<SandboxProvider> context) {
    return List.of(triggers);
  }

  @Override
  public UpdateControl<SandboxProvider> reconcile(
      SandboxProvider provider, Context<SandboxProvider> context) {
    String uid = provider.getMetadata().getUid();
    Instant now = clock.instant();
    List<String> problems = SandboxProviderValidator.validate(provider.getSpec());
    if (!problems.isEmpty()) {
      registry.remove(uid);
      String message = "Invalid spec: " + String.join("; ", problems) + ".";
      events.record(provider, Type.Warning, SandboxProviderReason.INVALID_PROVIDER_SPEC, message);
      return write(
          provider,
          context,
          SandboxProviderStatusCalculator.notReady(
              provider, SandboxProviderReason.INVALID_SPEC, message, now),
          null);
    }
    List<String> violations =
        IsolationPolicyCheck.violations(config.isolationPolicy(), provider.getSpec());
    if (!violations.isEmpty()) {
      registry.remove(uid);
      String message =
          "The operator's isolation policy forbids "
              + String.join("; ", violations)
              + ". Change the provider, or ask the cluster's operator to allow it (Helm values isolationPolicy.*).";
      events.record(provider, Type.Warning, SandboxProviderReason.POLICY_VIOLATION, message);
      // No retry storm: the policy only changes with an operator restart, the spec with an event.
      return write(
          provider,
          context,
          SandboxProviderStatusCalculator.notReady(
              provider, SandboxProviderReason.POLICY_VIOLATION, message, now),
          null);
    }
    if (!registry.factory().supports(provider.getSpec().getType())) {
      registry.remove(uid);
      String message =
          "Provider type "
              + provider.getSpec().getType().value()
              + " is not available in this operator build.";
      return write(
          provider,
          context,
          SandboxProviderStatusCalculator.notReady(
              provider, SandboxProviderReason.INVALID_SPEC, message, now),
          null);
    }
    SecretRequirements.Resolution secrets =
        SecretRequirements.resolve(
            provider.getMetadata().getNamespace(),
            provider.getSpec(),
            new KubernetesReferencedObjects(context.getClient()));
    if (!secrets.ok()) {
      registry.remove(uid);
      events.record(
          provider, Type.Warning, SandboxProviderReason.CREDENTIALS_MISSING, secrets.problem());
      // Secrets are not watched: look again soon, so that a Secret created now is found quickly.
      return write(
          provider,
          context,
          SandboxProviderStatusCalculator.notReady(
              provider, SandboxProviderReason.CREDENTIALS_MISSING, secrets.problem(), now),
          NOT_READY_PROBE_INTERVAL);
    }
    ProviderSettings settings = ProviderSettings.of(provider, config);
    BackendContext backendContext =
        new BackendContext(
            uid,
            settings,
            provider.getSpec(),
            secrets.secrets(),
            config,
            context.getClient(),
            () -> poolChanged(uid),
            outcome -> metrics.serviceCall(settings.type(), outcome));
    ProviderRuntime runtime;
    try {
      runtime = registry.ensure(backendContext, fingerprint(provider, secrets.secrets()));
    } catch (RuntimeException e) {
      registry.remove(uid);
      String message = "The backend could not be set up: " + e.getMessage();
      return write(
          provider,
          context,
          SandboxProviderStatusCalculator.notReady(
              provider, SandboxProviderReason.INVALID_SPEC, message, now),
          NOT_READY_PROBE_INTERVAL);
    }
    ProbeResult probe = runtime.lastProbe();
    Instant lastProbe = lastProbeTimes.get(uid);
    boolean probeDue =
        probe == null
            || lastProbe == null
            || !probe.ready()
            || Duration.between(lastProbe, now).compareTo(config.probeInterval()) >= 0
            || observedGenerationBehind(provider)
            // Sandboxes started failing since the last probe: say so now, not at the next interval.
            || runtime.backend().startFailure().isPresent();
    if (probeDue) {
      boolean wasReady = runtime.ready();
      probe = runtime.backend().startIfReady(probeSafely(runtime));
      runtime.recordProbe(probe);
      lastProbeTimes.put(uid, now);
      if (probe.ready() && !wasReady) {
        LOG.info("SandboxProvider {} is ready: {}", settings.displayName(), probe.message());
        ProbeResult before = runtime.previousProbe();
        if (before != null && before.reason() == SandboxProviderReason.SANDBOX_START_FAILING) {
          events.record(
              provider,
              Type.Normal,
              SandboxProviderReason.SANDBOX_START_RECOVERED,
              "A sandbox started again; the provider is Ready. " + probe.message());
        }
        events.record(provider, Type.Normal, SandboxProviderReason.PROVIDER_READY, probe.message());
        // A restarted operator finds Ready=True already written, so the status does not change and
        // executions waiting for this process to see the provider ready must be told directly.
        readyListener.accept(provider);
      } else if (!probe.ready()) {
        LOG.info(
            "SandboxProvider {} is not ready ({}): {}",
            settings.displayName(),
            probe.reason(),
            probe.message());
        events.record(
            provider,
            Type.Warning,
            probe.reason() == SandboxProviderReason.SANDBOX_START_FAILING
                ? SandboxProviderReason.SANDBOX_START_FAILING
                : SandboxProviderReason.PROBE_FAILED,
            probe.message());
        metrics.backendError(settings.type(), probe.reason());
      }
    }
    SandboxProviderStatus status =
        SandboxProviderStatusCalculator.probed(
            provider, probe, runtime.backend().pools(), probeDue ? now : lastProbe);
    Duration next = probe.ready() ? config.probeInterval() : NOT_READY_PROBE_INTERVAL;
    Optional<Duration> canaryDue = canary.schedule(provider, runtime);
    return write(
        provider, context, status, canaryDue.filter(due -> due.compareTo(next) < 0).orElse(next));
  }

  /**
   * A reconcile failed; JOSDK retries it as usual. A provider probed before keeps its status (an
   * observation that still stands); one never probed says why it is not Ready yet. The message
   * names the error's type only: its text may quote more than a status should show.
   */
  @Override
  public ErrorStatusUpdateControl<SandboxProvider> updateErrorStatus(
      SandboxProvider provider, Context<SandboxProvider> context, Exception e) {
    if (provider.getStatus() == null
        || Conditions.get(provider.getStatus().getConditions(), ConditionTypes.READY).isEmpty()) {
      try {
        recorder.record(
            provider,
            context,
            SandboxProviderStatusCalculator.notReady(
                provider,
                SandboxProviderReason.PROBING,
                "The operator could not reconcile this SandboxProvider yet ("
                    + e.getClass().getSimpleName()
                    + ") and retries; the operator's log has the details.",
                clock.instant()));
      } catch (RuntimeException notWritten) {
        LOG.debug(
            "SandboxProvider {}/{}: the error status was not written: {}",
            provider.getMetadata().getNamespace(),
            provider.getMetadata().getName(),
            notWritten.toString());
      }
    }
    return ErrorStatusUpdateControl.defaultErrorProcessing();
  }

  /** Pool counts changed: refresh the provider status soon, at most once per short interval. */
  private void poolChanged(String providerUid) {
    Optional<ProviderRuntime> runtime = registry.get(providerUid);
    if (runtime.isEmpty() || !poolRefreshPending.add(providerUid)) {
      return;
    }
    ProviderSettings settings = runtime.get().settings();
    scheduler.schedule(
        () -> {
          poolRefreshPending.remove(providerUid);
          triggers.trigger(new ResourceID(settings.name(), settings.namespace()));
        },
        POOL_STATUS_DELAY.toMillis(),
        TimeUnit.MILLISECONDS);
  }

  private static ProbeResult probeSafely(ProviderRuntime runtime) {
    try {
      return runtime.backend().probe();
    } catch (RuntimeException e) {
      return ProbeResult.notReady(
          SandboxProviderReason.BACKEND_UNREACHABLE, "The probe failed: " + e.getMessage());
    }
  }

  private static boolean observedGenerationBehind(SandboxProvider provider) {
    SandboxProviderStatus status = provider.getStatus();
    return status == null
        || status.getObservedGeneration() == null
        || !status.getObservedGeneration().equals(provider.getMetadata().getGeneration())
        || !Conditions.get(status.getConditions(), ConditionTypes.READY).isPresent();
  }

  /**
   * One event per pool whose target moved since the last status, with the two numbers behind it.
   */
  private void recordPoolResizes(
      SandboxProvider provider, SandboxProviderStatus previous, SandboxProviderStatus status) {
    if (previous == null || previous.getPools() == null || status.getPools() == null) {
      return;
    }
    for (dev.sandboxes.api.v1alpha1.PoolStatus pool : status.getPools()) {
      previous.getPools().stream()
          .filter(before -> before.getLanguage() == pool.getLanguage())
          .filter(
              before ->
                  before.getDesired() != null
                      && pool.getDesired() != null
                      && !before.getDesired().equals(pool.getDesired()))
          .findFirst()
          .ifPresent(
              before ->
                  events.record(
                      provider,
                      Type.Normal,
                      SandboxProviderReason.POOL_RESIZED,
                      String.format(
                          java.util.Locale.ROOT,
                          "The %s pool now aims for %d idle or starting sandboxes (was %d): %s executions per minute x %.1f s"
                              + " sandbox start time (Little's law), within poolSize and maxPoolSize.",
                          pool.getLanguage().value(),
                          pool.getDesired(),
                          before.getDesired(),
                          pool.getArrivalsPerMinute() == null
                              ? "?"
                              : pool.getArrivalsPerMinute().toString(),
                          pool.getStartMillis() == null ? 0.0 : pool.getStartMillis() / 1000.0)));
    }
  }

  private UpdateControl<SandboxProvider> write(
      SandboxProvider provider,
      Context<SandboxProvider> context,
      SandboxProviderStatus status,
      Duration reschedule) {
    canary.applyTo(provider, status, clock.instant());
    recorder.record(provider, context, status);
    UpdateControl<SandboxProvider> control = UpdateControl.noUpdate();
    return reschedule == null ? control : control.rescheduleAfter(reschedule);
  }

  /** A digest of everything the backend is built from; Secret values enter it hashed only. */
  static String fingerprint(SandboxProvider provider, Map<String, Map<String, String>> secrets) {
    try {
      MessageDigest digest = MessageDigest.getInstance("SHA-256");
      digest.update(JSON.writeValueAsBytes(provider.getSpec()));
      for (Map.Entry<String, Map<String, String>> secret : new TreeMap<>(secrets).entrySet()) {
        digest.update(secret.getKey().getBytes(StandardCharsets.UTF_8));
        for (Map.Entry<String, String> entry : new TreeMap<>(secret.getValue()).entrySet()) {
          digest.update(entry.getKey().getBytes(StandardCharsets.UTF_8));
          digest.update((byte) 0);
          digest.update(entry.getValue().getBytes(StandardCharsets.UTF_8));
          digest.update((byte) 0);
        }
      }
      return HexFormat.of().formatHex(digest.digest());
    } catch (NoSuchAlgorithmException | com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void close() {
    canary.close();
    scheduler.shutdownNow();
  }
}
