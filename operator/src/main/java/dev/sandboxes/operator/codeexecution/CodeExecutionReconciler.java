package dev.sandboxes.operator.codeexecution;

import dev.sandboxes.api.ApiConstants;
import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionReason;
import dev.sandboxes.api.v1alpha1.CodeExecutionStatus;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.operator.backend.SandboxLease;
import dev.sandboxes.operator.common.TriggerEventSource;
import dev.sandboxes.operator.events.EventRecorder;
import dev.sandboxes.operator.events.EventRecorder.Type;
import dev.sandboxes.operator.execution.ExecutionOutcome;
import dev.sandboxes.operator.execution.ExecutionRequest;
import dev.sandboxes.operator.metrics.OperatorMetrics;
import dev.sandboxes.operator.metrics.OperatorMetrics.ExecutionPhase;
import dev.sandboxes.operator.provider.KubernetesReferencedObjects;
import dev.sandboxes.operator.provider.ProviderSettings;
import dev.sandboxes.operator.runner.CollectedArtifacts;
import dev.sandboxes.operator.sandboxprovider.ProviderRegistry;
import dev.sandboxes.operator.sandboxprovider.ProviderRuntime;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.javaoperatorsdk.operator.api.config.informer.InformerEventSourceConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.MaxReconciliationInterval;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reconciles CodeExecutions: validate → resolve the provider → queue → write Started → run off the
 * reconcile thread → write the final status → apply ttlSecondsAfterFinished.
 *
 * <p>At most once: Started is written (with optimistic locking) before any code reaches a sandbox,
 * and an execution found Started that this process is not running is never run again; it is
 * finished from what the backend can still report, or as Interrupted. See DESIGN.md.
 */
@ControllerConfiguration(
    name = "codeexecution",
    maxReconciliationInterval =
        @MaxReconciliationInterval(interval = 10, timeUnit = TimeUnit.MINUTES))
public class CodeExecutionReconciler implements Reconciler<CodeExecution> {

  private static final Logger LOG = LoggerFactory.getLogger(CodeExecutionReconciler.class);
  private static final String PROVIDER_INDEX = "codeexecution-by-provider";
  private static final String DEFAULT_PROVIDER_KEY = "*default*";
  private static final Duration REFERENCE_RETRY = Duration.ofSeconds(15);
  private static final Duration BACKEND_WAIT_AFTER_RESTART = Duration.ofSeconds(60);

  /** Decisions per reconcile when writes keep conflicting; then a reschedule. */
  private static final int MAX_DECISIONS = 5;

  private static final Duration CONFLICT_RETRY = Duration.ofSeconds(1);

  /** How long past its deadline an execution started by another operator may take to be written. */
  static final Duration OTHER_WRITER_GRACE = Duration.ofSeconds(30);

  private final ProviderRegistry registry;
  private final ExecutionQueue queue;
  private final ExecutionTracker tracker;
  private final EventRecorder events;
  private final OperatorMetrics metrics;
  private final Clock clock;
  private final TriggerEventSource<CodeExecution> triggers;
  private volatile EventSourceContext<CodeExecution> eventSourceContext;
  private volatile InformerEventSource<SandboxProvider, CodeExecution> providers;
  private final KubernetesClient completeReads;
  private final Instant processStart;
  private volatile KubernetesClient client;
  private volatile ExecutionStore store;
  private volatile CodeExecutionStatusRecorder recorder;

  /** Executions found Started after a restart whose provider has no backend yet: since when. */
  private final java.util.Map<String, Instant> awaitingBackend =
      new java.util.concurrent.ConcurrentHashMap<>();

  /**
   * @param completeReads a client with the standard serialization: the informers' client prunes
   *     large fields (see {@link ExecutionCachePruning}), and starting an execution needs them
   */
  public CodeExecutionReconciler(
      ProviderRegistry registry,
      ExecutionQueue queue,
      ExecutionTracker tracker,
      TriggerEventSource<CodeExecution> triggers,
      EventRecorder events,
      OperatorMetrics metrics,
      Clock clock,
      KubernetesClient completeReads) {
    this.completeReads = completeReads;
    this.processStart = clock.instant();
    this.registry = registry;
    this.metrics = metrics;
    this.queue = queue;
    this.tracker = tracker;
    this.triggers = triggers;
    this.events = events;
    this.clock = clock;
    triggers.onDeleted(
        cx -> {
          String uid = cx.getMetadata().getUid();
          tracker.cancel(uid);
          queue.remove(uid);
          awaitingBackend.remove(uid);
          events.forget(uid);
        });
    tracker.onSandboxAssigned(
        run -> recorder.recordSandboxId(run.id(), run.executionUid(), run.sandboxId()));
  }

  @Override
  public List<EventSource<?, CodeExecution>> prepareEventSources(
      EventSourceContext<CodeExecution> context) {
    this.client = context.getClient();
    this.store = new ExecutionStore(completeReads, context.getClient());
    CodeExecutionStatusRecorder statusRecorder = new CodeExecutionStatusRecorder(store);
    statusRecorder.subscribe(new CodeExecutionEvents(events));
    statusRecorder.subscribe(new CodeExecutionMetrics(metrics, clock));
    this.recorder = statusRecorder;
    this.eventSourceContext = context;
    context.getPrimaryCache().addIndexer(PROVIDER_INDEX, cx -> List.of(providerKey(cx)));
    InformerEventSourceConfiguration<SandboxProvider> configuration =
        InformerEventSourceConfiguration.from(SandboxProvider.class, CodeExecution.class)
            .withName("providers")
            // Only what changes the outcome of provider resolution wakes waiting executions:
            // not the pool counts and probe times that change all the time.
            .withOnUpdateFilter((updated, old) -> resolutionRelevantChange(old, updated))
            .withSecondaryToPrimaryMapper(provider -> waitingOn(context, provider))
            .build();
    InformerEventSource<SandboxProvider, CodeExecution> source =
        new InformerEventSource<>(configuration, context);
    this.providers = source;
    return List.of(source, triggers);
  }

  /**
   * observe → admit → act; every status goes through the {@link CodeExecutionStatusRecorder}, whose
   * subscribers record the events and meters. A write that conflicts means the copy decided on is
   * stale: decide again on what is stored now, never re-apply a status computed from the old copy.
   */
  @Override
  public UpdateControl<CodeExecution> reconcile(
      CodeExecution cached, Context<CodeExecution> context) {
    return onFreshCopies(
        cached,
        context,
        cx -> {
          Instant now = clock.instant();
          Observation observed = observe(cx);
          if (!(observed instanceof Observation.Pending pending)) {
            return followUp(cx, context, observed, now);
          }
          CodeExecution complete = pending.execution();
          Admission.Decision<ProviderRuntime> decision = admit(complete, context, now);
          if (decision instanceof Admission.Invalid<ProviderRuntime> rejected) {
            return rejected(complete, context, rejected, now);
          }
          if (decision instanceof Admission.Waiting<ProviderRuntime> waiting) {
            return waitFor(complete, context, waiting, now);
          }
          return queueOrStart(
              complete, context, (Admission.Admitted<ProviderRuntime>) decision, now);
        });
  }

  /** What one copy of an execution shows, before anything is written. */
  private sealed interface Observation {
    /**
     * Finished; {@code ranHere} when this process still tracks a run of it (another writer finished
     * it).
     */
    record Finished(boolean ranHere) implements Observation {}

    /** Running in this process; the tracker triggers a reconcile when it ends. */
    record Running() implements Observation {}

    /** Its run in this process ended: the outcome is to be written. */
    record Ended(ExecutionTracker.Run run, ExecutionOutcome outcome) implements Observation {}

    /** Started, not by this process (a restart, or another operator). */
    record StartedElsewhere() implements Observation {}

    /** Pending, as a complete copy (the cache's lacks spec.code and spec.arguments). */
    record Pending(CodeExecution execution) implements Observation {}

    /** Deleted meanwhile; the delete event cleans up. */
    record Vanished() implements Observation {}

    /** Stored, but it cannot be parsed. */
    record Unreadable(String problem) implements Observation {}
  }

  /**
   * Decides on {@code cached}, then on fresh reads while writes conflict, at most {@link
   * #MAX_DECISIONS} times before a reschedule.
   */
  private UpdateControl<CodeExecution> onFreshCopies(
      CodeExecution cached,
      Context<CodeExecution> context,
      Function<CodeExecution, UpdateControl<CodeExecution>> decide) {
    CodeExecution cx = cached;
    for (int attempt = 1; ; attempt++) {
      try {
        return decide.apply(cx);
      } catch (StaleCopyException stale) {
        // Another writer (or our own sandbox-id record) changed the object since it was read.
        if (attempt == MAX_DECISIONS) {
          LOG.info(
              "CodeExecution {}/{} kept changing while it was reconciled; trying again shortly",
              cx.getMetadata().getNamespace(),
              cx.getMetadata().getName());
          return UpdateControl.<CodeExecution>noUpdate().rescheduleAfter(CONFLICT_RETRY);
        }
        CodeExecution fresh = stale.fresh();
        if (fresh == null) {
          ExecutionStore.Read read = store.read(cx);
          if (read instanceof ExecutionStore.Gone) {
            return UpdateControl.noUpdate(); // deleted meanwhile; the delete event cleans up
          }
          if (read instanceof ExecutionStore.Unreadable unreadable) {
            return unreadable(cx, context, unreadable.problem(), clock.instant());
          }
          fresh = ((ExecutionStore.Found) read).execution();
        }
        LOG.debug(
            "CodeExecution {}/{} changed (resourceVersion {} -> {}); deciding again",
            cx.getMetadata().getNamespace(),
            cx.getMetadata().getName(),
            cx.getMetadata().getResourceVersion(),
            fresh.getMetadata().getResourceVersion());
        cx = fresh;
      }
    }
  }

  /** Observes one copy (cached and pruned, or read complete); writes nothing. */
  private Observation observe(CodeExecution cx) {
    Optional<ExecutionTracker.Run> run = tracker.get(cx.getMetadata().getUid());
    if (CodeExecutionStatusCalculator.isTerminal(cx.getStatus())) {
      return new Observation.Finished(run.isPresent());
    }
    if (run.isPresent()) {
      Optional<ExecutionOutcome> outcome = run.get().outcome();
      return outcome.isEmpty()
          ? new Observation.Running()
          : new Observation.Ended(run.get(), outcome.get());
    }
    if (CodeExecutionStatusCalculator.isStarted(cx.getStatus())) {
      return new Observation.StartedElsewhere();
    }
    if (ExecutionCachePruning.holdsInputs(cx)) {
      // A complete read, or a cached copy whose short code is all its inputs: no read before the
      // start. The Started write is conditioned on its resourceVersion, so a copy that is out of
      // date only costs a conflict, then the read below.
      return new Observation.Pending(cx);
    }
    // Starting needs spec.code and spec.arguments, which this cached copy does not hold, and a copy
    // as recent as possible, since the Started write is conditioned on its resourceVersion.
    ExecutionStore.Read read = store.read(cx);
    if (read instanceof ExecutionStore.Gone) {
      return new Observation.Vanished();
    }
    if (read instanceof ExecutionStore.Unreadable unreadable) {
      return new Observation.Unreadable(unreadable.problem());
    }
    CodeExecution complete = ((ExecutionStore.Found) read).execution();
    if (CodeExecutionStatusCalculator.isStarted(complete.getStatus())
        || CodeExecutionStatusCalculator.isTerminal(complete.getStatus())) {
      throw new StaleCopyException("started or finished since the cached copy", complete);
    }
    return new Observation.Pending(complete);
  }

  /**
   * Everything but a pending execution: a finished one, a run to follow, a start by someone else.
   */
  private UpdateControl<CodeExecution> followUp(
      CodeExecution cx, Context<CodeExecution> context, Observation observed, Instant now) {
    String uid = cx.getMetadata().getUid();
    if (observed instanceof Observation.Finished finished) {
      if (finished.ranHere()) {
        // Finished by another writer while (or after) this process ran it: its status stays.
        LOG.info(
            "CodeExecution {}/{} was finished by another writer; keeping its status ({})",
            cx.getMetadata().getNamespace(),
            cx.getMetadata().getName(),
            Conditions.reason(cx.getStatus().getConditions(), ConditionTypes.SUCCEEDED));
        tracker.cancel(uid, "Another operator finished this execution; its status is kept");
      } else {
        queue.remove(uid); // it may still wait in this process's queue
      }
      return finishedControl(cx, context, now);
    }
    if (observed instanceof Observation.Ended ended) {
      CodeExecutionStatus written = writeFinal(cx, context, ended.run(), ended.outcome(), now);
      tracker.forget(uid);
      if (written != null) {
        recordPhases(written, ended.run());
      }
      return written == null
          ? UpdateControl.noUpdate()
          : ttlAfter(UpdateControl.noUpdate(), cx, written, now);
    }
    if (observed instanceof Observation.StartedElsewhere) {
      queue.remove(uid); // started elsewhere; it may still wait in this process's queue
      return recoverStartedElsewhere(cx, context, now);
    }
    if (observed instanceof Observation.Unreadable unreadable) {
      return unreadable(cx, context, unreadable.problem(), now);
    }
    return UpdateControl.noUpdate(); // running, or deleted meanwhile
  }

  /**
   * Admission of a pending execution, with the check only the stored object can make (its history).
   */
  private Admission.Decision<ProviderRuntime> admit(
      CodeExecution cx, Context<CodeExecution> context, Instant now) {
    Long generation = cx.getMetadata().getGeneration();
    if (generation != null && generation > 1) {
      return Admission.Invalid.spec(
          List.of(
              "the spec was changed after the CodeExecution was created; the spec is immutable"));
    }
    return Admission.admit(
        cx,
        pending -> chooseProvider(pending, now),
        new KubernetesReferencedObjects(context.getClient()));
  }

  private Admission.ProviderChoice<ProviderRuntime> chooseProvider(CodeExecution cx, Instant now) {
    ProviderResolution resolution = resolveProvider(cx);
    if (resolution.provider() == null) {
      return new Admission.Waiting<>(
          CodeExecutionReason.PROVIDER_NOT_FOUND, resolution.problem(), true);
    }
    SandboxProvider provider = resolution.provider();
    Optional<ProviderRuntime> runtime = registry.get(provider.getMetadata().getUid());
    if (runtime.isEmpty() || !runtime.get().ready()) {
      // The provider's own message: when its sandboxes fail to start, it quotes the start error.
      String why =
          "SandboxProvider "
              + provider.getMetadata().getName()
              + " is not Ready"
              + runtime
                  .map(
                      r ->
                          r.lastProbe() == null
                              ? " yet"
                              : " (" + r.lastProbe().reason() + "): " + r.lastProbe().message())
                  .orElse(" yet");
      return new Admission.Waiting<>(
          CodeExecutionReason.PROVIDER_NOT_READY, why, knownNotReady(provider, runtime, now));
    }
    return new Admission.Usable<>(runtime.get(), runtime.get().settings());
  }

  /**
   * Waits for what admission lacks, with a Warning event. A missing reference is waited for until
   * it appears; a missing or not Ready provider until spec.admissionTimeoutSeconds.
   */
  private UpdateControl<CodeExecution> waitFor(
      CodeExecution cx, Context<CodeExecution> context, Admission.Waiting<?> waiting, Instant now) {
    if (waiting.reason() == CodeExecutionReason.REFERENCE_NOT_FOUND) {
      events.record(cx, Type.Warning, CodeExecutionReason.REFERENCE_NOT_FOUND, waiting.problem());
      return waiting(
          cx,
          context,
          CodeExecutionReason.REFERENCE_NOT_FOUND,
          waiting.problem() + "; the execution waits for it.",
          now,
          REFERENCE_RETRY);
    }
    Instant admissionDeadline = admissionDeadline(cx, now);
    if (!now.isBefore(admissionDeadline) && waiting.endsAtAdmissionTimeout()) {
      return admissionTimedOut(cx, context, waiting.problem(), now);
    }
    boolean notReady = waiting.reason() == CodeExecutionReason.PROVIDER_NOT_READY;
    String message =
        waiting.problem()
            + "; the execution waits for it until "
            + admissionDeadline
            + " (spec.admissionTimeoutSeconds)"
            + (notReady ? "." : "");
    // A missing provider's event names the problem alone; a not Ready one's the wait too.
    events.record(cx, Type.Warning, waiting.reason(), notReady ? message : waiting.problem());
    // Woken by the provider informer when the provider appears, when its Ready condition flips or
    // its reason or message change, by the provider reconciler when this process sees it ready
    // (after a restart or a leader change its status may already say True, so no flip comes):
    // providerBecameReady; and at the admission deadline.
    Duration untilDeadline = Duration.between(now, admissionDeadline);
    // Past the deadline without knowing yet (just restarted): look again shortly.
    return waiting(
        cx,
        context,
        waiting.reason(),
        message,
        now,
        untilDeadline.isNegative() || untilDeadline.isZero()
            ? Duration.ofSeconds(5)
            : untilDeadline);
  }

  /** Admitted: take a sandbox now, or wait in the provider's queue (queue, don't fail). */
  private UpdateControl<CodeExecution> queueOrStart(
      CodeExecution cx,
      Context<CodeExecution> context,
      Admission.Admitted<ProviderRuntime> admitted,
      Instant now) {
    String uid = cx.getMetadata().getUid();
    ProviderRuntime runtime = admitted.provider();
    ProviderSettings settings = admitted.settings();
    ExecutionQueue.Entry entry =
        new ExecutionQueue.Entry(
            ResourceID.fromResource(cx), uid, created(cx, now), cx.getSpec().getLanguage());
    ExecutionQueue.Turn turn =
        queue.admit(
            runtime.uid(), entry, runtime.backend(), settings.limits().maxConcurrentExecutions());
    if (turn instanceof ExecutionQueue.Waiting) {
      recorder.record(
          cx,
          context,
          CodeExecutionStatusCalculator.queued(cx, settings.name(), settings.type(), now));
      return UpdateControl.noUpdate();
    }
    SandboxLease lease = ((ExecutionQueue.Granted) turn).lease();
    return start(cx, context, admitted, lease, now);
  }

  private UpdateControl<CodeExecution> start(
      CodeExecution cx,
      Context<CodeExecution> context,
      Admission.Admitted<ProviderRuntime> admitted,
      SandboxLease lease,
      Instant now) {
    String uid = cx.getMetadata().getUid();
    ProviderRuntime runtime = admitted.provider();
    ProviderSettings settings = admitted.settings();
    CodeExecutionStatus started =
        CodeExecutionStatusCalculator.started(
            cx, settings.name(), settings.type(), lease.sandboxId(), now);
    if (!tracker.beginStart()) {
      // The operator is shutting down: it starts nothing more; the next one will.
      lease.release();
      queue.release(runtime.uid(), uid);
      return UpdateControl.noUpdate();
    }
    try {
      try {
        // The write-ahead record: one PUT conditioned on the resourceVersion just read. No code
        // reaches a sandbox before it is stored; if anyone wrote in between, nothing runs here.
        recorder.record(cx, context, started);
        metrics.executionPhase(
            settings.type(), ExecutionPhase.ADMIT, Duration.between(now, clock.instant()));
      } catch (RuntimeException e) {
        lease.release();
        queue.release(runtime.uid(), uid);
        if (isNotFound(e)) {
          return UpdateControl.noUpdate(); // deleted meanwhile
        }
        throw e; // a conflict: decide again on a fresh read (it may have been started elsewhere)
      }
      ExecutionRequest request = admitted.request();
      tracker.start(
          ResourceID.fromResource(cx),
          uid,
          runtime.uid(),
          runtime.backend(),
          lease,
          request,
          StatusBudget.storedBytesWithoutStatus(cx));
      LOG.info(
          "CodeExecution {} started on SandboxProvider {}", request.displayName(), settings.name());
      return UpdateControl.noUpdate();
    } finally {
      tracker.endStart();
    }
  }

  /** The run's two phases after admission, once its final status is stored. */
  private void recordPhases(CodeExecutionStatus written, ExecutionTracker.Run run) {
    ProviderType type = written.getSandbox() == null ? null : written.getSandbox().getType();
    metrics.executionPhase(
        type, ExecutionPhase.RUN, Duration.between(run.handedOver(), run.ended()));
    metrics.executionPhase(
        type, ExecutionPhase.RECORD, Duration.between(run.ended(), clock.instant()));
  }

  /**
   * Writes the final status synchronously, so the run can be forgotten once it is stored: within
   * the size the API server can store, and if it still refuses it, without output. Returns the
   * status written, or null when the object is gone. A conflict propagates: another writer may have
   * finished the execution, and its status must stay.
   */
  private CodeExecutionStatus writeFinal(
      CodeExecution cx,
      Context<CodeExecution> context,
      ExecutionTracker.Run run,
      ExecutionOutcome outcome,
      Instant now) {
    // Judged by the limits it was admitted with, even if the provider changed or went away since.
    CodeExecutionStatus finished =
        CodeExecutionStatusCalculator.finished(cx, outcome, run.request(), now);
    // The files go first: the final status may point into their ConfigMap only once it exists.
    storeArtifacts(cx, finished, outcome.report().against(outcome.exitCode()).artifacts());
    try {
      // Edited while it ran: the outcome is that of the spec it started with (SpecChangeIgnored).
      return writeFitting(cx, context, finished, run.storedBytesWithoutStatus());
    } catch (RuntimeException e) {
      if (!isNotFound(e)) {
        throw e;
      }
      return null;
    }
  }

  /**
   * Stores the execution's files in its ConfigMap and lists them in {@code finished} (in place),
   * with events for what was left out. The verdict never changes: a run whose files could not be
   * kept still ran, and the message says what happened to them.
   */
  private void storeArtifacts(
      CodeExecution cx, CodeExecutionStatus finished, CollectedArtifacts artifacts) {
    if (artifacts.isEmpty()) {
      return;
    }
    if (artifacts.problem() != null) {
      appendMessage(
          finished,
          "The runner's artifact records could not be used ("
              + artifacts.problem()
              + "); no artifacts were kept.");
      return;
    }
    if (artifacts.truncated()) {
      finished.setArtifactsTruncated(true);
      events.record(
          cx,
          Type.Warning,
          CodeExecutionReason.ARTIFACTS_TRUNCATED,
          artifacts.omissionSummary()
              + ". Raise spec.limits.maxArtifacts or maxArtifactBytes on the provider, or write fewer or smaller files.");
    } else if (artifacts.omittedCount() > 0) {
      events.record(
          cx,
          Type.Normal,
          CodeExecutionReason.ARTIFACTS_SKIPPED,
          artifacts.omissionSummary() + ".");
    }
    String configMapName = null;
    if (!artifacts.files().isEmpty()) {
      ConfigMap configMap = ArtifactConfigMaps.build(cx, artifacts.files());
      try {
        storeConfigMap(cx, configMap);
        configMapName = configMap.getMetadata().getName();
        finished.setArtifacts(ArtifactConfigMaps.statuses(artifacts.files(), configMapName));
      } catch (KubernetesClientException e) {
        String why =
            e.getCode() == 403
                ? "the operator may not create ConfigMaps in this namespace"
                : e.getStatus() != null && e.getStatus().getMessage() != null
                    ? e.getStatus().getMessage()
                    : e.getMessage();
        LOG.warn(
            "CodeExecution {}/{}: its artifacts could not be stored: {}",
            cx.getMetadata().getNamespace(),
            cx.getMetadata().getName(),
            why);
        events.record(
            cx,
            Type.Warning,
            CodeExecutionReason.ARTIFACTS_NOT_STORED,
            "The "
                + artifacts.files().size()
                + " artifacts could not be stored in ConfigMap "
                + configMap.getMetadata().getName()
                + ": "
                + why
                + ".");
        appendMessage(
            finished,
            "Its " + artifacts.files().size() + " artifacts could not be stored (" + why + ").");
        return;
      }
    }
    String summary = ArtifactConfigMaps.summary(artifacts, configMapName);
    if (!summary.isEmpty()) {
      appendMessage(finished, summary);
    }
  }

  /**
   * Creates the ConfigMap. One that already belongs to this execution was stored by an earlier
   * attempt at the final write (an execution runs once, so it holds the same files): it stays. Only
   * create is needed, which keeps the operator's rights on ConfigMaps to get and create.
   */
  private void storeConfigMap(CodeExecution cx, ConfigMap configMap) {
    var configMaps = client.configMaps().inNamespace(configMap.getMetadata().getNamespace());
    try {
      configMaps.resource(configMap).create();
    } catch (KubernetesClientException e) {
      if (e.getCode() != 409) {
        throw e;
      }
      ConfigMap existing = configMaps.withName(configMap.getMetadata().getName()).get();
      boolean ours =
          existing != null
              && existing.getMetadata().getOwnerReferences().stream()
                  .anyMatch(owner -> cx.getMetadata().getUid().equals(owner.getUid()));
      if (!ours) {
        throw new KubernetesClientException(
            "a ConfigMap named "
                + configMap.getMetadata().getName()
                + " already exists and does not belong to this execution",
            409,
            null);
      }
    }
  }

  private static void appendMessage(CodeExecutionStatus status, String sentence) {
    status.setMessage(
        status.getMessage() == null ? sentence : status.getMessage() + " " + sentence);
  }

  /**
   * A final status, cut to the budget; if the API server still refuses it, the fallback without
   * output.
   */
  private CodeExecutionStatus writeFitting(
      CodeExecution cx,
      Context<CodeExecution> context,
      CodeExecutionStatus finished,
      long storedBytesWithoutStatus) {
    StatusBudget.Fitted fitted = StatusBudget.fit(finished, storedBytesWithoutStatus);
    if (fitted.resultDropped() || fitted.outputCut()) {
      LOG.info(
          "CodeExecution {}/{}: the final status was cut to fit the object size limit (result dropped: {},"
              + " output cut: {})",
          cx.getMetadata().getNamespace(),
          cx.getMetadata().getName(),
          fitted.resultDropped(),
          fitted.outputCut());
    }
    try {
      return recorder.record(cx, context, fitted.status());
    } catch (KubernetesClientException e) {
      if (!StatusBudget.refusedForContent(e)) {
        throw e;
      }
      String why = StatusBudget.describeRefusal(e);
      LOG.warn(
          "CodeExecution {}/{}: the API server refused the final status ({}); writing it without output",
          cx.getMetadata().getNamespace(),
          cx.getMetadata().getName(),
          why);
      CodeExecutionStatus fallback = StatusBudget.fallback(fitted.status(), why);
      return recorder.record(cx, context, fallback);
    }
  }

  /**
   * Started, but not by this process. Started before this process came up: its operator is gone, so
   * finish from the backend's knowledge, never run again. Started while this process was up:
   * another operator runs it (an overlapping leader, a second deployment); give it until the
   * execution's deadline to write its outcome before treating it the same way.
   */
  private UpdateControl<CodeExecution> recoverStartedElsewhere(
      CodeExecution cx, Context<CodeExecution> context, Instant now) {
    String uid = cx.getMetadata().getUid();
    String sandboxId =
        cx.getStatus().getSandbox() == null ? null : cx.getStatus().getSandbox().getId();
    Optional<SandboxProvider> provider = findProvider(cx);
    Optional<ProviderRuntime> runtime =
        provider.flatMap(p -> registry.get(p.getMetadata().getUid()));
    Instant startedAt = parseOr(cx.getStatus().getStartTime(), null);
    if (startedAt != null && startedAt.isAfter(processStart)) {
      Instant deadline = startedAt.plus(timeout(cx, runtime)).plus(OTHER_WRITER_GRACE);
      if (now.isBefore(deadline)) {
        LOG.debug(
            "CodeExecution {}/{} was started by another operator; waiting until {} for its outcome",
            cx.getMetadata().getNamespace(),
            cx.getMetadata().getName(),
            deadline);
        return UpdateControl.<CodeExecution>noUpdate()
            .rescheduleAfter(Duration.between(now, deadline).plusMillis(50));
      }
    }
    boolean providerKnownBroken =
        provider
            .map(
                p ->
                    p.getStatus() != null
                        && Conditions.isFalse(p.getStatus().getConditions(), ConditionTypes.READY))
            .orElse(false);
    if (provider.isPresent() && runtime.isEmpty() && !providerKnownBroken) {
      // Right after a restart the provider's backend may not be built yet; without it the sandbox
      // could not be discarded. Wait for it a little, not forever.
      Instant first = awaitingBackend.computeIfAbsent(uid, k -> now);
      if (Duration.between(first, now).compareTo(BACKEND_WAIT_AFTER_RESTART) < 0) {
        return UpdateControl.<CodeExecution>noUpdate().rescheduleAfter(Duration.ofSeconds(1));
      }
    }
    awaitingBackend.remove(uid);
    Optional<ExecutionOutcome> recovered = Optional.empty();
    if (runtime.isPresent()) {
      try {
        recovered = runtime.get().backend().recover(uid, sandboxId);
        if (recovered.isEmpty()) {
          runtime.get().backend().discard(uid, sandboxId);
        }
      } catch (RuntimeException e) {
        LOG.warn(
            "recovering CodeExecution {}/{} failed: {}",
            cx.getMetadata().getNamespace(),
            cx.getMetadata().getName(),
            e.toString());
      }
    }
    CodeExecutionStatus written;
    if (recovered.isPresent()) {
      ProviderSettings settings = runtime.get().settings();
      CodeExecutionStatus finished =
          CodeExecutionStatusCalculator.finished(
              cx,
              recovered.get(),
              settings.limits().outputLimitAction(),
              Admission.effectiveTimeout(cx.getSpec(), settings),
              now);
      written = writeFitting(cx, context, finished, storedBytesWithoutStatus(cx));
    } else {
      written =
          recorder.record(cx, context, CodeExecutionStatusCalculator.interrupted(cx, null, now));
    }
    return ttlAfter(UpdateControl.noUpdate(), cx, written, now);
  }

  /** The encoded size of the stored object without its status, read now (a rare path). */
  private long storedBytesWithoutStatus(CodeExecution cx) {
    if (!ExecutionCachePruning.isPruned(cx)) {
      return StatusBudget.storedBytesWithoutStatus(cx);
    }
    ExecutionStore.Read read = store.read(cx);
    return read instanceof ExecutionStore.Found found
        ? StatusBudget.storedBytesWithoutStatus(found.execution())
        : StatusBudget.OBJECT_LIMIT_BYTES / 2; // unreadable: assume half the object is taken
  }

  /**
   * The execution's time limit: its own, the provider's default, or the largest default maximum.
   */
  private static Duration timeout(CodeExecution cx, Optional<ProviderRuntime> runtime) {
    if (cx.getSpec() != null && cx.getSpec().getTimeoutSeconds() != null) {
      return Duration.ofSeconds(cx.getSpec().getTimeoutSeconds());
    }
    return Duration.ofSeconds(
        runtime
            .map(r -> r.settings().limits().defaultTimeoutSeconds())
            .orElse(ProviderSettings.DEFAULT_MAX_TIMEOUT_SECONDS));
  }

  private Optional<SandboxProvider> findProvider(CodeExecution cx) {
    String providerName =
        cx.getStatus().getSandbox() == null ? null : cx.getStatus().getSandbox().getProvider();
    if (providerName == null || providers == null) {
      return Optional.empty();
    }
    return providers.get(new ResourceID(providerName, cx.getMetadata().getNamespace()));
  }

  /**
   * Final before it started (an invalid spec, a Secret that did not opt in): Warning event, no
   * retry.
   */
  private UpdateControl<CodeExecution> rejected(
      CodeExecution cx,
      Context<CodeExecution> context,
      Admission.Invalid<?> rejected,
      Instant now) {
    queue.remove(cx.getMetadata().getUid());
    CodeExecutionStatus status = recorder.record(cx, context, rejected.status(cx, now));
    if (rejected.invalidSpec()) {
      LOG.info(
          "CodeExecution {}/{} is invalid: {}",
          cx.getMetadata().getNamespace(),
          cx.getMetadata().getName(),
          rejected.problems());
    } else {
      LOG.info(
          "CodeExecution {}/{} refused ({}): {}",
          cx.getMetadata().getNamespace(),
          cx.getMetadata().getName(),
          rejected.reason(),
          String.join("; ", rejected.problems()));
    }
    return ttlAfter(UpdateControl.noUpdate(), cx, status, now);
  }

  /** The API server holds the object, but it cannot be parsed: final, as an invalid spec. */
  private UpdateControl<CodeExecution> unreadable(
      CodeExecution cx, Context<CodeExecution> context, String problem, Instant now) {
    // Only a pending execution is read whole, and its status holds no output to keep.
    return rejected(
        cx,
        context,
        Admission.Invalid.spec(
            List.of(
                "the CodeExecution cannot be read ("
                    + problem
                    + "); spec.arguments may nest at most "
                    + CodeExecutionValidator.MAX_ARGUMENTS_DEPTH
                    + " levels")),
        now);
  }

  /**
   * When a pending execution stops waiting for a provider that is missing or not Ready: its
   * creation plus spec.admissionTimeoutSeconds. Waiting in a Ready provider's queue is not bounded
   * by it (queue, don't fail).
   */
  private static Instant admissionDeadline(CodeExecution cx, Instant now) {
    return created(cx, now)
        .plus(Admission.admissionTimeout(cx.getSpec()))
        .truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
  }

  /**
   * Whether the provider is known not to be able to take executions: its backend in this process
   * probed not Ready. Right after a restart (backends not built yet, or not probed) an execution
   * queued long ago on a Ready provider must not be ended for this process's slowness: its status
   * must say not Ready too, and the process must have had time to probe.
   */
  private boolean knownNotReady(
      SandboxProvider provider, Optional<ProviderRuntime> runtime, Instant now) {
    if (runtime.isPresent() && runtime.get().lastProbe() != null) {
      return !runtime.get().ready();
    }
    return !"True".equals(readyStatus(provider))
        && Duration.between(processStart, now).compareTo(BACKEND_WAIT_AFTER_RESTART) >= 0;
  }

  /**
   * The admission deadline passed while the provider could not take the execution: final, never
   * run.
   */
  private UpdateControl<CodeExecution> admissionTimedOut(
      CodeExecution cx, Context<CodeExecution> context, String why, Instant now) {
    queue.remove(cx.getMetadata().getUid());
    CodeExecutionStatus status =
        CodeExecutionStatusCalculator.neverStarted(
            cx,
            "No sandbox within spec.admissionTimeoutSeconds ("
                + Admission.admissionTimeout(cx.getSpec()).toSeconds()
                + "s): "
                + why,
            now);
    recorder.record(cx, context, status);
    LOG.info(
        "CodeExecution {}/{} gave up waiting for its provider: {}",
        cx.getMetadata().getNamespace(),
        cx.getMetadata().getName(),
        why);
    return ttlAfter(UpdateControl.noUpdate(), cx, status, now);
  }

  private UpdateControl<CodeExecution> waiting(
      CodeExecution cx,
      Context<CodeExecution> context,
      CodeExecutionReason reason,
      String message,
      Instant now,
      Duration retry) {
    recorder.record(cx, context, CodeExecutionStatusCalculator.waiting(cx, reason, message, now));
    UpdateControl<CodeExecution> control = UpdateControl.noUpdate();
    return retry == null
        ? control
        : control.rescheduleAfter(
            retry.isNegative() || retry.isZero() ? Duration.ofMillis(100) : retry);
  }

  /** A finished execution: note spec changes, then apply the TTL. */
  private UpdateControl<CodeExecution> finishedControl(
      CodeExecution cx, Context<CodeExecution> context, Instant now) {
    CodeExecutionStatus status = cx.getStatus();
    Long generation = cx.getMetadata().getGeneration();
    if (generation != null
        && status.getObservedGeneration() != null
        && generation > status.getObservedGeneration()) {
      // The cached copy has no output: the status is rebuilt from a complete read.
      ExecutionStore.Read read = store.read(cx);
      if (read instanceof ExecutionStore.Found found) {
        CodeExecution complete = found.execution();
        if (!CodeExecutionStatusCalculator.isTerminal(complete.getStatus())) {
          throw new StaleCopyException("no longer finished", complete);
        }
        CodeExecutionStatus updated = CodeExecutionStatusCalculator.copy(complete);
        updated.setObservedGeneration(generation);
        recorder.record(complete, context, updated); // its subscribers say SpecChangeIgnored
      }
    }
    return ttlAfter(UpdateControl.noUpdate(), cx, status, now);
  }

  /** Deletes the object once ttlSecondsAfterFinished passed, or schedules the next look. */
  private UpdateControl<CodeExecution> ttlAfter(
      UpdateControl<CodeExecution> control,
      CodeExecution cx,
      CodeExecutionStatus status,
      Instant now) {
    Integer ttl = cx.getSpec() == null ? null : cx.getSpec().getTtlSecondsAfterFinished();
    if (ttl == null || status == null) {
      return control;
    }
    Instant completed = parseOr(status.getCompletionTime(), now);
    Instant expiry = completed.plusSeconds(ttl);
    if (!now.isBefore(expiry)) {
      LOG.info(
          "CodeExecution {}/{} expired after ttlSecondsAfterFinished={}; deleting it",
          cx.getMetadata().getNamespace(),
          cx.getMetadata().getName(),
          ttl);
      try {
        client.resource(cx).delete();
      } catch (KubernetesClientException e) {
        if (e.getCode() != 404) {
          throw e;
        }
      }
      return UpdateControl.noUpdate();
    }
    Duration wait = Duration.between(now, expiry);
    return control.rescheduleAfter(
        wait.isNegative() ? Duration.ofMillis(100) : wait.plusMillis(50));
  }

  private record ProviderResolution(SandboxProvider provider, String problem) {}

  private ProviderResolution resolveProvider(CodeExecution cx) {
    String namespace = cx.getMetadata().getNamespace();
    if (cx.getSpec().getProviderRef() != null) {
      String name = cx.getSpec().getProviderRef().getName();
      Optional<SandboxProvider> provider = providers.get(new ResourceID(name, namespace));
      return provider
          .map(p -> new ProviderResolution(p, null))
          .orElseGet(
              () ->
                  new ProviderResolution(
                      null,
                      "SandboxProvider "
                          + name
                          + " (spec.providerRef) does not exist in namespace "
                          + namespace
                          + "; create it or fix the name"));
    }
    List<SandboxProvider> defaults =
        providers
            .list(namespace, CodeExecutionReconciler::isDefault)
            .sorted(java.util.Comparator.comparing(p -> p.getMetadata().getName()))
            .toList();
    if (defaults.size() == 1) {
      return new ProviderResolution(defaults.get(0), null);
    }
    if (defaults.isEmpty()) {
      return new ProviderResolution(
          null,
          "spec.providerRef is not set and namespace "
              + namespace
              + " has no SandboxProvider annotated "
              + ApiConstants.DEFAULT_PROVIDER_ANNOTATION
              + "=\"true\"; set spec.providerRef or annotate one provider");
    }
    return new ProviderResolution(
        null,
        "spec.providerRef is not set and namespace "
            + namespace
            + " has "
            + defaults.size()
            + " default SandboxProviders ("
            + defaults.stream()
                .map(p -> p.getMetadata().getName())
                .collect(Collectors.joining(", "))
            + "); keep the annotation on one, or set spec.providerRef");
  }

  static boolean isDefault(SandboxProvider provider) {
    var annotations = provider.getMetadata().getAnnotations();
    return annotations != null
        && "true".equalsIgnoreCase(annotations.get(ApiConstants.DEFAULT_PROVIDER_ANNOTATION));
  }

  private static String providerKey(CodeExecution cx) {
    String namespace = cx.getMetadata().getNamespace();
    if (cx.getSpec() != null
        && cx.getSpec().getProviderRef() != null
        && cx.getSpec().getProviderRef().getName() != null) {
      return namespace + "/" + cx.getSpec().getProviderRef().getName();
    }
    return namespace + "/" + DEFAULT_PROVIDER_KEY;
  }

  /** Wakes the executions waiting for a provider that just became ready in this process. */
  public void providerBecameReady(SandboxProvider provider) {
    EventSourceContext<CodeExecution> context = eventSourceContext;
    if (context != null) {
      waitingOn(context, provider).forEach(triggers::trigger);
    }
  }

  /** Executions that wait for this provider to appear or become Ready. */
  private static Set<ResourceID> waitingOn(
      EventSourceContext<CodeExecution> context, SandboxProvider provider) {
    String namespace = provider.getMetadata().getNamespace();
    List<CodeExecution> candidates =
        new ArrayList<>(
            context
                .getPrimaryCache()
                .byIndex(PROVIDER_INDEX, namespace + "/" + provider.getMetadata().getName()));
    if (isDefault(provider)) {
      candidates.addAll(
          context
              .getPrimaryCache()
              .byIndex(PROVIDER_INDEX, namespace + "/" + DEFAULT_PROVIDER_KEY));
    }
    Set<ResourceID> ids = new HashSet<>();
    for (CodeExecution cx : candidates) {
      if (!CodeExecutionStatusCalculator.isTerminal(cx.getStatus())
          && !CodeExecutionStatusCalculator.isStarted(cx.getStatus())) {
        ids.add(ResourceID.fromResource(cx));
      }
    }
    return ids;
  }

  private static boolean resolutionRelevantChange(SandboxProvider old, SandboxProvider updated) {
    // Reason and message too: waiting executions show the provider's message (a new start error).
    return !Objects.equals(readyStatus(old), readyStatus(updated))
        || !Objects.equals(readyText(old), readyText(updated))
        || !Objects.equals(old.getMetadata().getGeneration(), updated.getMetadata().getGeneration())
        || isDefault(old) != isDefault(updated);
  }

  private static String readyText(SandboxProvider provider) {
    return provider.getStatus() == null
        ? null
        : Conditions.get(provider.getStatus().getConditions(), ConditionTypes.READY)
            .map(c -> c.getReason() + ": " + c.getMessage())
            .orElse(null);
  }

  private static String readyStatus(SandboxProvider provider) {
    return provider.getStatus() == null
        ? null
        : Conditions.get(provider.getStatus().getConditions(), ConditionTypes.READY)
            .map(c -> c.getStatus())
            .orElse(null);
  }

  private static Instant created(CodeExecution cx, Instant fallback) {
    return parseOr(cx.getMetadata().getCreationTimestamp(), fallback);
  }

  private static Instant parseOr(String timestamp, Instant fallback) {
    try {
      return timestamp == null ? fallback : Instant.parse(timestamp);
    } catch (RuntimeException e) {
      return fallback;
    }
  }

  private static boolean isNotFound(RuntimeException e) {
    Throwable cause = e;
    while (cause != null) {
      if (cause instanceof KubernetesClientException k && k.getCode() == 404) {
        return true;
      }
      cause = cause.getCause();
    }
    return false;
  }
}
