package dev.sandboxes.operator.backend.aliyun;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sandboxes.api.v1alpha1.AliyunEgress;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.api.v1alpha1.SandboxProviderReason;
import dev.sandboxes.operator.backend.CanaryRun;
import dev.sandboxes.operator.backend.ProbeResult;
import dev.sandboxes.operator.backend.RunControl;
import dev.sandboxes.operator.backend.RunGuard;
import dev.sandboxes.operator.backend.SandboxBackend;
import dev.sandboxes.operator.backend.SandboxLease;
import dev.sandboxes.operator.backend.StartFailure;
import dev.sandboxes.operator.backend.StartFailures;
import dev.sandboxes.operator.execution.ExecutionOutcome;
import dev.sandboxes.operator.execution.ExecutionRequest;
import dev.sandboxes.operator.execution.Termination;
import dev.sandboxes.operator.provider.BackendContext;
import dev.sandboxes.operator.provider.ProviderSettings;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Aliyun provider: every execution runs in its own AgentRun code-interpreter sandbox, created for
 * it and deleted afterwards. See docs/providers/aliyun.md for the protocol, the error mapping and
 * what guarantees that no sandbox is leaked.
 */
public final class AliyunSandboxBackend implements SandboxBackend {

  private static final Logger LOG = LoggerFactory.getLogger(AliyunSandboxBackend.class);
  private static final Set<String> TEMPLATE_USABLE = Set.of("READY", "UPDATING");
  private static final Set<String> TEMPLATE_PENDING = Set.of("CREATING");
  private static final int MAX_LIST_PAGES = 50;

  /**
   * A template still CREATING after this many probe waits (templateWait each: 5 minutes by default)
   * is stuck: the provider says SandboxStartFailing instead of Probing.
   */
  static final int TEMPLATE_STUCK_AFTER_WAITS = 30;

  /**
   * Deadlines and throttle wake-ups of all Aliyun backends: short tasks on a timer that is never
   * shut down, so that an execution granted just before its backend was replaced still has one.
   */
  private static final ScheduledExecutorService TIMERS =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread thread = new Thread(r, "aliyun-timers");
            thread.setDaemon(true);
            return thread;
          });

  private final ProviderSettings provider;
  private final AliyunSettings settings;
  private final AgentRunTimings timings;
  private final Clock clock;
  private final String secretName;
  private final SandboxIds ids;
  private final AgentRunHttp http;
  private final AgentRunControlClient control;
  private final AgentRunDataClient data;
  private final ScheduledExecutorService scheduler;
  private final Throttle throttle;
  private final ChosenOrServiceIds sandboxIds = new ChosenOrServiceIds();
  private final Set<String> active = ConcurrentHashMap.newKeySet();
  private final Set<String> pendingDeletes = ConcurrentHashMap.newKeySet();

  /**
   * Ids whose CreateSandbox went unanswered: deleted again until a deletion finds them, or they are
   * leftovers.
   */
  private final Map<String, Instant> uncertain = new ConcurrentHashMap<>();

  private final Map<String, Instant> firstSeen = new ConcurrentHashMap<>();
  private final AtomicBoolean maintenanceStarted = new AtomicBoolean();
  private final AtomicBoolean closed = new AtomicBoolean();
  private volatile ScheduledFuture<?> maintenance;
  private final StartFailures startFailures;

  /** Templates seen CREATING, and since when (cleared once READY). */
  private final Map<String, Instant> creatingSince = new ConcurrentHashMap<>();

  public AliyunSandboxBackend(BackendContext context) {
    this(context, AgentRunTimings.defaults(), Clock.systemUTC());
  }

  public AliyunSandboxBackend(BackendContext context, AgentRunTimings timings, Clock clock) {
    this.provider = context.settings();
    this.settings = AliyunSettings.of(context);
    this.timings = timings;
    this.clock = clock;
    this.secretName = context.spec().getAliyun().getCredentialsSecretRef().getName();
    this.ids = new SandboxIds(provider.namespace(), provider.name());
    this.http =
        new AgentRunHttp(
            Duration.ofSeconds(10), timings.maxResponseBytes(), context.serviceCallListener());
    this.control =
        new AgentRunControlClient(
            settings.controlEndpoint(), settings.credentials(), http, timings, clock);
    this.data =
        new AgentRunDataClient(
            settings.dataEndpoint(),
            settings.credentials(),
            settings.region(),
            http,
            timings,
            clock);
    AtomicInteger threads = new AtomicInteger();
    this.scheduler =
        Executors.newScheduledThreadPool(
            1,
            r -> {
              Thread thread =
                  new Thread(r, "aliyun-" + provider.name() + "-" + threads.incrementAndGet());
              thread.setDaemon(true);
              return thread;
            });
    this.throttle = new Throttle(clock, timings, TIMERS, context.capacityListener());
    this.startFailures = new StartFailures(context::redact, context.capacityListener());
  }

  @Override
  public ProviderType type() {
    return ProviderType.ALIYUN;
  }

  @Override
  public ProbeResult probe() {
    String where = "AgentRun at " + settings.controlEndpoint();
    boolean throttled = false;
    try {
      control.listTemplates(RunGuard.never());
    } catch (AgentRunException e) {
      switch (e.kind()) {
        case CREDENTIALS:
          return ProbeResult.notReady(
              SandboxProviderReason.CREDENTIALS_REJECTED,
              where
                  + " rejected the credentials in Secret "
                  + secretName
                  + ": "
                  + e.getMessage()
                  + "; check accessKeyId and accessKeySecret and the key's AgentRun permissions");
        case THROTTLED:
          throttled =
              true; // it answered and authenticated the call; executions wait out the throttling
          break;
        case CONNECTION:
          return ProbeResult.notReady(
              SandboxProviderReason.BACKEND_UNREACHABLE,
              where
                  + " did not answer: "
                  + e.getMessage()
                  + "; check spec.aliyun.region or controlEndpoint");
        default:
          return ProbeResult.notReady(
              SandboxProviderReason.BACKEND_UNREACHABLE, where + " failed: " + e.getMessage());
      }
    } catch (RunGuard.StoppedException e) {
      throw new IllegalStateException(e);
    }
    List<String> ready = new ArrayList<>();
    for (Map.Entry<String, Boolean> template : templatesToCheck().entrySet()) {
      Optional<ProbeResult> problem = checkTemplate(template.getKey(), template.getValue());
      if (problem.isPresent()) {
        return problem.get();
      }
      ready.add(template.getKey());
    }
    if (startFailures.trialDue()) {
      // Executions wait while sandboxes fail to start: the probe tries one itself, with backoff.
      Language language = settings.templates().keySet().iterator().next();
      CanaryRun.Result trial =
          CanaryRun.run(this, provider, language, RunControl.detached(), clock);
      LOG.info(
          "SandboxProvider {}: trial start while sandboxes fail to start: {}",
          provider.displayName(),
          trial.message());
    }
    Optional<StartFailure> failing = startFailures.current();
    if (failing.isPresent()) {
      return ProbeResult.notReady(
          failing.get().reason(),
          where
              + " answered and template "
              + String.join(", ", ready)
              + " is READY, but sandboxes fail to start (at least "
              + StartFailures.THRESHOLD
              + " times in a row): "
              + failing.get().describe());
    }
    return ProbeResult.reachable(
        where
            + " (region "
            + settings.region()
            + ") answered"
            + (throttled ? " but is throttling requests" : "")
            + "; template "
            + String.join(", ", ready)
            + " READY.");
  }

  /** Starts the periodic maintenance (leftover sweep); its first round runs at once. */
  @Override
  public void start() {
    if (maintenanceStarted.compareAndSet(false, true) && !closed.get()) {
      try {
        // The first run at once: leftovers of an earlier operator process go at backend start.
        maintenance =
            scheduler.scheduleWithFixedDelay(
                this::maintain, 0, timings.maintenanceInterval().toMillis(), TimeUnit.MILLISECONDS);
      } catch (java.util.concurrent.RejectedExecutionException e) {
        // closed meanwhile
      }
    }
  }

  /**
   * Template name → whether the spec names it (else it is the operator's default, created when
   * missing).
   */
  private Map<String, Boolean> templatesToCheck() {
    Map<String, Boolean> templates = new LinkedHashMap<>();
    for (Map.Entry<Language, String> entry : settings.templates().entrySet()) {
      boolean configured = settings.templateConfigured().getOrDefault(entry.getKey(), false);
      templates.merge(entry.getValue(), configured, Boolean::logicalOr);
    }
    return templates;
  }

  private Optional<ProbeResult> checkTemplate(String name, boolean configured) {
    try {
      Optional<JsonNode> template = control.getTemplate(name, RunGuard.never());
      if (template.isEmpty()) {
        if (configured) {
          return Optional.of(
              ProbeResult.notReady(
                  SandboxProviderReason.TEMPLATE_NOT_FOUND,
                  "AgentRun template "
                      + name
                      + " (spec.runtimes[].template or spec.aliyun.templateName) does not exist in region "
                      + settings.region()
                      + "; create it, or remove the field to let the operator create its default template"));
        }
        try {
          control.createTemplate(
              name,
              settings.defaultNetworkMode(),
              timings.sandboxIdleTimeoutSeconds(),
              RunGuard.never());
          LOG.info(
              "SandboxProvider {}: created AgentRun template {} in region {}",
              provider.displayName(),
              name,
              settings.region());
        } catch (AgentRunException e) {
          if (e.kind() == AgentRunException.Kind.CLIENT) {
            return Optional.of(
                ProbeResult.notReady(
                    SandboxProviderReason.TEMPLATE_NOT_FOUND,
                    "AgentRun refused to create the operator's template "
                        + name
                        + " with networkMode "
                        + settings.defaultNetworkMode()
                        + ": "
                        + e.getMessage()
                        + "; name a template of your own in"
                        + " spec.aliyun.templateName"
                        + (settings.egress() == AliyunEgress.DENY
                            ? " (networkMode PRIVATE, with your VPC), or set spec.aliyun.egress: Internet"
                            : "")));
          }
          if (e.kind() != AgentRunException.Kind.CONFLICT) {
            throw e;
          }
        }
        template = control.getTemplate(name, RunGuard.never());
      }
      Instant until = clock.instant().plus(timings.templateWait());
      while (template.isPresent()
          && TEMPLATE_PENDING.contains(templateStatus(template.get()))
          && clock.instant().isBefore(until)) {
        Thread.sleep(timings.pollInterval().toMillis());
        template = control.getTemplate(name, RunGuard.never());
      }
      if (template.isEmpty()) {
        return Optional.of(
            ProbeResult.notReady(
                SandboxProviderReason.TEMPLATE_NOT_FOUND,
                "AgentRun template " + name + " disappeared while the operator waited for it"));
      }
      String status = templateStatus(template.get());
      if (TEMPLATE_USABLE.contains(status)) {
        creatingSince.remove(name);
        return networkProblem(name, template.get());
      }
      if (TEMPLATE_PENDING.contains(status)) {
        Instant since =
            creatingSince.computeIfAbsent(
                name, n -> clock.instant().truncatedTo(java.time.temporal.ChronoUnit.SECONDS));
        boolean stuck =
            Duration.between(since, clock.instant())
                    .compareTo(timings.templateWait().multipliedBy(TEMPLATE_STUCK_AFTER_WAITS))
                >= 0;
        return Optional.of(
            ProbeResult.notReady(
                stuck ? SandboxProviderReason.SANDBOX_START_FAILING : SandboxProviderReason.PROBING,
                "AgentRun template "
                    + name
                    + " is "
                    + status
                    + " since "
                    + since
                    + (stuck
                        ? ", longer than a template takes to build; no sandbox can start from it. Check it in the"
                            + " AgentRun console, or recreate it (docs/providers/aliyun.md)"
                        : "; the provider becomes Ready when it is READY")));
      }
      String reason = AgentRunHttp.text(template.get(), "statusReason");
      return Optional.of(
          ProbeResult.notReady(
              SandboxProviderReason.TEMPLATE_NOT_FOUND,
              "AgentRun template "
                  + name
                  + " is "
                  + status
                  + (reason == null ? "" : " (" + reason + ")")
                  + "; fix or recreate it in the AgentRun console"));
    } catch (AgentRunException e) {
      SandboxProviderReason reason =
          e.kind() == AgentRunException.Kind.CREDENTIALS
              ? SandboxProviderReason.CREDENTIALS_REJECTED
              : SandboxProviderReason.BACKEND_UNREACHABLE;
      return Optional.of(
          ProbeResult.notReady(
              reason, "Checking AgentRun template " + name + " failed: " + e.getMessage()));
    } catch (RunGuard.StoppedException e) {
      throw new IllegalStateException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Optional.of(
          ProbeResult.notReady(SandboxProviderReason.PROBING, "The probe was interrupted"));
    }
  }

  /**
   * With egress Deny every template must be PRIVATE: a PUBLIC (or PUBLIC_AND_PRIVATE) one would
   * give the code internet access the provider did not opt in to. A template that does not say is
   * refused too.
   */
  private Optional<ProbeResult> networkProblem(String name, JsonNode template) {
    if (settings.egress() == AliyunEgress.INTERNET) {
      return Optional.empty();
    }
    JsonNode network = template.get("networkConfiguration");
    String mode = network == null ? null : AgentRunHttp.text(network, "networkMode");
    if ("PRIVATE".equalsIgnoreCase(mode)) {
      return Optional.empty();
    }
    return Optional.of(
        ProbeResult.notReady(
            SandboxProviderReason.TEMPLATE_NOT_PRIVATE,
            "AgentRun template "
                + name
                + " has networkMode "
                + (mode == null ? "(not reported)" : mode)
                + " but spec.aliyun.egress is Deny; use a template with networkMode PRIVATE, or set spec.aliyun.egress:"
                + " Internet to allow internet access"));
  }

  private static String templateStatus(JsonNode template) {
    String status = AgentRunHttp.text(template, "status");
    return status == null ? "UNKNOWN" : status.toUpperCase(Locale.ROOT);
  }

  /**
   * A lease at once (the sandbox is created per run), except while AgentRun throttles or reports
   * its quota exhausted: then none, and the capacity listener is called when the backoff ends.
   */
  @Override
  public Optional<SandboxLease> tryAcquire(Language language) {
    if (closed.get() || !settings.templates().containsKey(language) || throttle.active()) {
      return Optional.empty();
    }
    return Optional.of(new Lease(language));
  }

  @Override
  public ExecutionOutcome execute(
      SandboxLease lease, ExecutionRequest request, RunControl control) {
    Set<String> assigned = ConcurrentHashMap.newKeySet();
    RunControl tracked =
        new RunControl(
            id -> {
              assigned.add(id);
              active.add(id);
              control.sandboxAssigned(id);
            });
    control.onCancel(tracked::cancel);
    AgentRunExecution execution =
        new AgentRunExecution(
            data,
            throttle,
            timings,
            TIMERS,
            clock,
            sandboxIds,
            settings.templates().get(request.language()),
            request,
            tracked);
    try {
      LOG.debug("CodeExecution {} runs on AgentRun", request.displayName());
      ExecutionOutcome outcome = execution.run();
      if (execution.sandboxStarted()) {
        startFailures.succeeded();
      } else if (outcome.termination() == Termination.SANDBOX_FAILED) {
        startFailures.failed(
            outcome.detail(),
            "Check template "
                + settings.templates().get(request.language())
                + " and its sandboxes in the AgentRun console (docs/providers/aliyun.md)");
      }
      return outcome;
    } catch (RuntimeException e) {
      return ExecutionOutcome.failure(
          Termination.SANDBOX_FAILED,
          execution.sandboxId(),
          null,
          clock.instant(),
          "The Aliyun backend failed: " + e);
    } finally {
      // The deletion must happen even when the run's thread was interrupted (operator shutdown).
      boolean interrupted = Thread.interrupted();
      String sandboxId = execution.sandboxId();
      if (sandboxId != null && execution.sandboxMayExist()) {
        delete(sandboxId);
        if (execution.creationUncertain()) {
          uncertain.put(sandboxId, clock.instant());
        }
      } else if (execution.creationUncertain()) {
        LOG.warn(
            "SandboxProvider {}: AgentRun did not answer a CreateSandbox without a chosen id; if it created one,"
                + " AgentRun deletes it after {}s idle",
            provider.displayName(),
            timings.sandboxIdleTimeoutSeconds());
      }
      active.removeAll(assigned);
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** After an operator restart: the sandbox recorded (or derived from the uid) is deleted. */
  @Override
  public void discard(String executionUid, String sandboxId) {
    String id = sandboxId != null ? sandboxId : ids.forExecution(executionUid);
    // Without a recorded id and with service-chosen ids the derived one names nothing: harmless.
    try {
      scheduler.execute(() -> delete(id));
    } catch (java.util.concurrent.RejectedExecutionException e) {
      delete(id);
    }
  }

  @Override
  public Optional<StartFailure> startFailure() {
    return startFailures.current();
  }

  /**
   * Stops the maintenance. Running executions still finish and delete their sandboxes (their
   * deadlines run on the shared timer).
   */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    ScheduledFuture<?> task = maintenance;
    if (task != null) {
      task.cancel(false);
    }
    if (!pendingDeletes.isEmpty()) {
      LOG.warn(
          "SandboxProvider {} closes with {} AgentRun sandbox(es) it could not delete; AgentRun removes them"
              + " after {}s idle",
          provider.displayName(),
          pendingDeletes.size(),
          timings.sandboxIdleTimeoutSeconds());
    }
    scheduler.shutdown();
  }

  /**
   * Deletes a sandbox; when that fails, maintenance tries again (and AgentRun's idle timeout is the
   * backstop).
   */
  private void delete(String sandboxId) {
    try {
      if (data.deleteSandbox(sandboxId)) {
        LOG.debug("deleted AgentRun sandbox {}", sandboxId);
        uncertain.remove(sandboxId);
      }
      pendingDeletes.remove(sandboxId);
    } catch (AgentRunException | RuntimeException e) {
      if (pendingDeletes.add(sandboxId)) {
        LOG.warn(
            "SandboxProvider {}: deleting AgentRun sandbox {} failed ({}); retrying every {}s",
            provider.displayName(),
            sandboxId,
            e.getMessage(),
            timings.maintenanceInterval().toSeconds());
      }
    }
  }

  /**
   * Retries failed deletions, then deletes sandboxes of this provider that outlived any execution.
   */
  void maintain() {
    try {
      for (String id : new ArrayList<>(pendingDeletes)) {
        delete(id);
      }
      Instant now = clock.instant();
      for (Map.Entry<String, Instant> entry : new ArrayList<>(uncertain.entrySet())) {
        if (entry.getValue().plus(timings.leftoverAge()).isBefore(now)) {
          uncertain.remove(entry.getKey()); // from now on a leftover for the sweeper
        } else if (!active.contains(entry.getKey())) {
          delete(entry.getKey());
        }
      }
      sweepLeftovers();
    } catch (RuntimeException e) {
      LOG.warn(
          "SandboxProvider {}: AgentRun maintenance failed: {}",
          provider.displayName(),
          e.toString());
    }
  }

  private void sweepLeftovers() {
    Instant now = clock.instant();
    Set<String> seen = new TreeSet<>();
    List<String> leftovers = new ArrayList<>();
    String token = null;
    try {
      for (int page = 0; page < MAX_LIST_PAGES; page++) {
        // Once AgentRun chooses the ids, only the operator's own template tells its sandboxes
        // apart.
        JsonNode result =
            control.listSandboxes(sweepsByTemplate() ? defaultTemplate() : null, token);
        JsonNode items = result.get("items");
        if (items != null && items.isArray()) {
          for (JsonNode item : items) {
            String id = AgentRunHttp.text(item, "sandboxId");
            String status = AgentRunHttp.text(item, "status");
            boolean ours =
                ids.ours(id)
                    || sweepsByTemplate()
                        && defaultTemplate().equals(AgentRunHttp.text(item, "templateName"));
            if (!ours || active.contains(id) || "TERMINATED".equalsIgnoreCase(status)) {
              continue;
            }
            seen.add(id);
            Instant born = createdAt(item).orElseGet(() -> firstSeen.computeIfAbsent(id, k -> now));
            if (!born.plus(timings.leftoverAge()).isAfter(now)) {
              leftovers.add(id);
            }
          }
        }
        token = AgentRunHttp.text(result, "nextToken");
        if (token == null) {
          break;
        }
      }
    } catch (AgentRunException e) {
      if (e.kind() == AgentRunException.Kind.THROTTLED) {
        LOG.debug(
            "SandboxProvider {}: ListSandboxes is throttled; the sweep waits for its next round",
            provider.displayName());
      } else {
        LOG.warn(
            "SandboxProvider {}: listing AgentRun sandboxes failed: {}",
            provider.displayName(),
            e.getMessage());
      }
      return;
    }
    firstSeen.keySet().retainAll(seen);
    for (String id : leftovers) {
      if (!active.contains(id)) {
        delete(id);
      }
    }
    if (!leftovers.isEmpty()) {
      LOG.info(
          "SandboxProvider {}: deleted {} AgentRun sandbox(es) left by an earlier operator process",
          provider.displayName(),
          leftovers.size());
    }
  }

  /**
   * Whether leftovers are found by template: when AgentRun chooses the ids and this provider uses
   * the operator's own template, which only the operator creates sandboxes from.
   */
  private boolean sweepsByTemplate() {
    return sandboxIds.serviceChooses()
        && settings.templateConfigured().values().stream().anyMatch(named -> !named);
  }

  private String defaultTemplate() {
    return settings.egress() == AliyunEgress.INTERNET
        ? AliyunSettings.DEFAULT_INTERNET_TEMPLATE
        : AliyunSettings.DEFAULT_TEMPLATE;
  }

  private static Optional<Instant> createdAt(JsonNode sandbox) {
    String text = AgentRunHttp.text(sandbox, "createdAt");
    if (text == null) {
      return Optional.empty();
    }
    try {
      return Optional.of(Instant.parse(text));
    } catch (DateTimeParseException e) {
      try {
        return Optional.of(java.time.OffsetDateTime.parse(text).toInstant());
      } catch (DateTimeParseException again) {
        return Optional.empty();
      }
    }
  }

  /** Sandboxes being used by executions of this backend right now (tests). */
  Set<String> activeSandboxes() {
    return Set.copyOf(active);
  }

  /** Sandboxes whose deletion failed and is retried (tests). */
  Set<String> pendingDeletes() {
    return Set.copyOf(pendingDeletes);
  }

  SandboxIds ids() {
    return ids;
  }

  /**
   * Chosen ids (derived from the execution uid, recorded before the sandbox exists) until AgentRun
   * refuses one; from then on the service chooses and the id is recorded right after creation.
   */
  private final class ChosenOrServiceIds implements AgentRunExecution.Ids {
    private final AtomicBoolean refused = new AtomicBoolean();

    @Override
    public String chosenId(String executionUid) {
      return refused.get() ? null : ids.forExecution(executionUid);
    }

    @Override
    public void refused(String reason) {
      if (refused.compareAndSet(false, true)) {
        LOG.warn(
            "SandboxProvider {}: AgentRun refused a sandbox id chosen by the operator ({}); it assigns the ids from now"
                + " on",
            provider.displayName(),
            reason);
      }
    }

    boolean serviceChooses() {
      return refused.get();
    }
  }

  /** A lease that reserves nothing: the sandbox is created when the execution runs. */
  private record Lease(Language language) implements SandboxLease {
    @Override
    public String sandboxId() {
      return null;
    }

    @Override
    public void release() {
      // nothing was reserved
    }
  }
}
