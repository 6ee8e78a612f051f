package dev.sandboxes.operator.backend.e2b;

import dev.sandboxes.api.ApiConstants;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.api.v1alpha1.SandboxProviderReason;
import dev.sandboxes.api.v1alpha1.SecretKeyReference;
import dev.sandboxes.operator.backend.CanaryRun;
import dev.sandboxes.operator.backend.ProbeResult;
import dev.sandboxes.operator.backend.RunControl;
import dev.sandboxes.operator.backend.RunGuard;
import dev.sandboxes.operator.backend.SandboxBackend;
import dev.sandboxes.operator.backend.SandboxLease;
import dev.sandboxes.operator.backend.StartFailure;
import dev.sandboxes.operator.backend.StartFailures;
import dev.sandboxes.operator.backend.saas.RetryPolicy;
import dev.sandboxes.operator.backend.saas.Retrying;
import dev.sandboxes.operator.backend.saas.SaasHttp;
import dev.sandboxes.operator.backend.saas.SaasReply;
import dev.sandboxes.operator.execution.ExecutionOutcome;
import dev.sandboxes.operator.execution.ExecutionRequest;
import dev.sandboxes.operator.execution.Termination;
import dev.sandboxes.operator.provider.BackendContext;
import dev.sandboxes.operator.provider.ProviderSettings;
import java.net.http.HttpClient;
import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * E2B provider: any service that speaks the E2B sandbox API (E2B, Aliyun's E2B-compatible sandbox,
 * OpenKruise Agents). One sandbox per execution, created from the runtime's template, driven
 * through envd's process API with the shared runner, killed afterwards. See DESIGN.md here.
 */
public final class E2bSandboxBackend implements SandboxBackend {

  private static final Logger LOG = LoggerFactory.getLogger(E2bSandboxBackend.class);
  private static final String EXECUTION_UID_KEY = ApiConstants.EXECUTION_UID_LABEL;

  /**
   * Two tries half a second apart, whatever the service hints: a kill runs as a run ends and must
   * not hold it up.
   */
  private static final RetryPolicy KILL_RETRIES =
      new RetryPolicy(2, Duration.ofMillis(500), Duration.ofMillis(500));

  private final String providerUid;
  private final ProviderSettings provider;
  private final E2bSettings settings;
  private final String sandboxUrl;
  private final E2bTimings timings;
  private final String keyReference;
  private final Redactor redactor;
  private final HttpClient http;

  /**
   * envd over TLS: HTTP/2 when ALPN offers it, as the SDKs' envd transports (plain http stays on
   * {@link #http}).
   */
  private final HttpClient envdHttp2;

  private final String envdUser;
  private final E2bApi api;
  private final Clock clock = Clock.systemUTC();
  private final ScheduledExecutorService scheduler;
  private final ExecutorService cleanup;
  private final CreationGate gate;
  private final AtomicInteger running = new AtomicInteger();
  private final AtomicBoolean closed = new AtomicBoolean();
  private final StartFailures startFailures;

  /** The production backend: sandboxes are addressed by the E2B host convention. */
  public E2bSandboxBackend(BackendContext context) {
    this(context, null, E2bTimings.defaults());
  }

  /**
   * A backend with every envd call sent to one base URL (routed by the E2b-Sandbox-Id and
   * E2b-Sandbox-Port headers, like the SDKs' E2B_SANDBOX_URL), and its own time budgets.
   *
   * @param sandboxUrl null for the E2B host convention
   */
  public E2bSandboxBackend(BackendContext context, String sandboxUrl, E2bTimings timings) {
    this.providerUid = context.providerUid();
    this.provider = context.settings();
    this.settings = E2bSettings.of(context.spec().getE2b());
    this.sandboxUrl = sandboxUrl;
    this.timings = timings;
    SecretKeyReference ref = context.spec().getE2b().getApiKeySecretRef();
    this.keyReference = "Secret " + ref.getName() + " (key " + ref.getKey() + ")";
    String apiKey = context.secretValue(ref.getName(), ref.getKey());
    if (apiKey == null || apiKey.isBlank()) {
      throw new IllegalArgumentException(keyReference + " holds no API key");
    }
    this.redactor = new Redactor(apiKey.strip());
    this.startFailures =
        new StartFailures(text -> redactor.clean(context.redact(text)), context.capacityListener());
    AtomicInteger threads = new AtomicInteger();
    this.scheduler =
        Executors.newScheduledThreadPool(
            2, r -> daemon(r, "e2b-timer-" + provider.name() + "-" + threads.incrementAndGet()));
    this.cleanup =
        Executors.newCachedThreadPool(
            r -> daemon(r, "e2b-cleanup-" + provider.name() + "-" + threads.incrementAndGet()));
    this.http = SaasHttp.client(HttpClient.Version.HTTP_1_1, Duration.ofSeconds(10));
    this.envdHttp2 = SaasHttp.client(HttpClient.Version.HTTP_2, Duration.ofSeconds(10));
    this.envdUser = context.spec().getE2b().getUser();
    this.api =
        new E2bApi(
            http,
            settings.apiUrl(),
            apiKey.strip(),
            timings.requestTimeout(),
            redactor,
            context.serviceCallListener());
    this.gate =
        new CreationGate(
            clock,
            scheduler,
            timings.initialBackoff(),
            timings.maxBackoff(),
            provider.displayName(),
            context.capacityListener());
  }

  private static Thread daemon(Runnable r, String name) {
    Thread thread = new Thread(r, name);
    thread.setDaemon(true);
    return thread;
  }

  @Override
  public ProviderType type() {
    return ProviderType.E2B;
  }

  @Override
  public ProbeResult probe() {
    SaasReply answer;
    try {
      answer = api.probe();
    } catch (E2bServiceException e) {
      return ProbeResult.notReady(
          SandboxProviderReason.BACKEND_UNREACHABLE,
          "The E2B API at " + settings.apiUrl() + " did not answer: " + e.describe());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return ProbeResult.notReady(
          SandboxProviderReason.BACKEND_UNREACHABLE, "The probe was interrupted");
    }
    int status = answer.status();
    if (status == 200 || status == 429) {
      gate.credentialsAccepted();
      Optional<StartFailure> failing = failingAfterTrial();
      if (failing.isPresent()) {
        return ProbeResult.notReady(
            failing.get().reason(),
            "The E2B API at "
                + settings.apiUrl()
                + " accepted the API key, but sandboxes fail to start (at least "
                + StartFailures.THRESHOLD
                + " times in a row): "
                + failing.get().describe());
      }
      String limited =
          status == 429 ? " (it is rate limiting: " + api.error(answer).getMessage() + ")" : "";
      return ProbeResult.reachable(
          "E2B API at "
              + settings.apiUrl()
              + " accepted the API key"
              + limited
              + "; templates "
              + templates()
              + ".");
    }
    E2bServiceException error = api.error(answer);
    if (status == 401 || status == 403) {
      gate.credentialsRejected();
      return ProbeResult.notReady(
          SandboxProviderReason.CREDENTIALS_REJECTED,
          "The E2B API at "
              + settings.apiUrl()
              + " rejected the API key in "
              + keyReference
              + " ("
              + error.describe()
              + "); put a valid key there");
    }
    if (status == 404) {
      return ProbeResult.notReady(
          SandboxProviderReason.BACKEND_UNREACHABLE,
          "The E2B API at "
              + settings.apiUrl()
              + " has no sandbox listing ("
              + error.describe()
              + "); check spec.e2b.apiUrl");
    }
    return ProbeResult.notReady(
        SandboxProviderReason.BACKEND_UNREACHABLE,
        "The E2B API at " + settings.apiUrl() + " answered " + error.describe());
  }

  /**
   * While executions keep failing before their code ran, no execution is sent (the provider is not
   * Ready); instead the probe tries a start itself now and then (backoff in StartFailures), and the
   * first that works makes the provider Ready again.
   */
  private Optional<StartFailure> failingAfterTrial() {
    if (startFailures.trialDue()) {
      Language language = provider.runtimes().keySet().iterator().next();
      CanaryRun.Result trial =
          CanaryRun.run(this, provider, language, RunControl.detached(), clock);
      LOG.info(
          "SandboxProvider {}: trial start while sandboxes fail to start: {}",
          provider.displayName(),
          trial.message());
    }
    return startFailures.current();
  }

  @Override
  public Optional<StartFailure> startFailure() {
    return startFailures.current();
  }

  private String templates() {
    return provider.runtimes().values().stream()
        .map(r -> r.template() + " (" + r.language().value() + ")")
        .collect(Collectors.joining(", "));
  }

  @Override
  public Optional<SandboxLease> tryAcquire(Language language) {
    if (closed.get() || provider.runtime(language).isEmpty()) {
      return Optional.empty();
    }
    Lease lease = new Lease(language);
    if (gate.admit(lease) == CreationGate.Admission.DENIED) {
      return Optional.empty();
    }
    return Optional.of(lease);
  }

  @Override
  public ExecutionOutcome execute(
      SandboxLease lease, ExecutionRequest request, RunControl control) {
    Lease claimed = (Lease) lease;
    if (!claimed.used.compareAndSet(false, true)) {
      throw new IllegalStateException("a lease runs one execution");
    }
    running.incrementAndGet();
    String template = provider.runtime(request.language()).orElseThrow().template();
    E2bExecution execution =
        new E2bExecution(
            api, this::envdFor, gate, scheduler, clock, timings, template, metadata(request));
    try {
      ExecutionOutcome outcome = execution.run(claimed, request, control);
      recordStart(execution, outcome, template);
      return outcome;
    } catch (RuntimeException e) {
      LOG.warn(
          "E2B execution {} failed in the backend: {}",
          request.displayName(),
          redactor.clean(e.toString()));
      E2bApi.CreatedSandbox sandbox = execution.sandbox();
      return ExecutionOutcome.failure(
          Termination.SANDBOX_FAILED,
          sandbox == null ? null : sandbox.sandboxId(),
          null,
          clock.instant(),
          "The E2B backend failed: " + redactor.clean(E2bApi.rootMessage(e)));
    } finally {
      gate.abandoned(claimed);
      E2bApi.CreatedSandbox sandbox = execution.sandbox();
      if (sandbox != null) {
        kill(sandbox.sandboxId());
        redactor.forget(sandbox.envdAccessToken());
      } else if (execution.creationUncertain()) {
        cleanup.execute(() -> sweep(request.uid()));
      }
      if (running.decrementAndGet() == 0 && closed.get()) {
        shutdownExecutors();
      }
    }
  }

  /**
   * Counts the run for the provider's start health: a runner that envd started is a sandbox that
   * works; a run that failed before that (creation refused, envd not answering) is a start failure.
   * Runs stopped by their deadline or a deletion say nothing about the service.
   */
  private void recordStart(E2bExecution execution, ExecutionOutcome outcome, String template) {
    if (execution.runnerStarted()) {
      startFailures.succeeded();
    } else if (outcome.termination() == Termination.SANDBOX_FAILED) {
      startFailures.failed(
          outcome.detail(),
          "Check template "
              + template
              + " (spec.runtimes[].template or spec.e2b.template) in the E2B console or with the E2B CLI: a sandbox from it"
              + " must start envd (docs/providers/e2b.md)");
    }
  }

  /**
   * Metadata on every sandbox: who owns it, for cleanup by listing and for people reading the
   * console.
   */
  private Map<String, String> metadata(ExecutionRequest request) {
    Map<String, String> metadata = new LinkedHashMap<>();
    metadata.put(ApiConstants.MANAGED_BY_LABEL, ApiConstants.MANAGED_BY_VALUE);
    metadata.put(ApiConstants.PROVIDER_LABEL, provider.displayName());
    metadata.put(ApiConstants.PROVIDER_UID_LABEL, providerUid);
    metadata.put(EXECUTION_UID_KEY, request.uid());
    metadata.put(ApiConstants.LANGUAGE_LABEL, request.language().value());
    return metadata;
  }

  private EnvdClient envdFor(E2bApi.CreatedSandbox sandbox) {
    String base =
        sandboxUrl != null
            ? sandboxUrl
            : settings.sandboxUrl(sandbox.sandboxId(), sandbox.domain(), EnvdClient.ENVD_PORT);
    return new EnvdClient(
        EnvdClient.transportFor(base, envdHttp2, http),
        base,
        sandbox.sandboxId(),
        sandbox.envdAccessToken(),
        envdUser(sandbox),
        timings.requestTimeout(),
        redactor);
  }

  /**
   * spec.e2b.user when set; otherwise none, so envd uses the template's default user, except for
   * envd older than 0.4.0, which has no default and gets "user" (as E2B-JS authenticationHeader).
   */
  private String envdUser(E2bApi.CreatedSandbox sandbox) {
    if (envdUser != null) {
      return envdUser;
    }
    return EnvdVersion.atLeast(sandbox.envdVersion(), EnvdVersion.DEFAULT_USER)
        ? null
        : EnvdClient.LEGACY_DEFAULT_USER;
  }

  /**
   * After an operator restart: the process's output before now is lost and the nonce that
   * authenticates its result is gone, so nothing can be recovered; kill what is left.
   */
  @Override
  public void discard(String executionUid, String sandboxId) {
    Runnable task =
        () -> {
          if (sandboxId != null) {
            kill(sandboxId);
          }
          // A crash between creation and the status write leaves a sandbox only its metadata names.
          sweep(executionUid);
        };
    try {
      cleanup.execute(task);
    } catch (RejectedExecutionException closedAlready) {
      task.run();
    }
  }

  private void sweep(String executionUid) {
    try {
      List<String> ids =
          api.list(
              Map.of(
                  EXECUTION_UID_KEY, executionUid, ApiConstants.PROVIDER_UID_LABEL, providerUid));
      ids.forEach(this::kill);
    } catch (E2bServiceException e) {
      LOG.warn(
          "SandboxProvider {}: listing the sandboxes of an execution for cleanup failed ({}); they end at their"
              + " timeout",
          provider.displayName(),
          e.describe());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Kills a sandbox, once more after a short pause if the first attempt fails (killing is
   * idempotent).
   */
  private void kill(String sandboxId) {
    try {
      Retrying.call(
          KILL_RETRIES,
          failure -> true,
          RunGuard.never(),
          () -> {
            try {
              api.kill(sandboxId);
              return null;
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
              throw new RunGuard.StoppedException(RunGuard.Stop.CANCELLED);
            }
          });
      LOG.debug("killed E2B sandbox {}", sandboxId);
    } catch (E2bServiceException e) {
      LOG.warn(
          "SandboxProvider {}: killing E2B sandbox {} failed ({}); it ends at its own timeout",
          provider.displayName(),
          sandboxId,
          e.describe());
    } catch (RunGuard.StoppedException interrupted) {
      // the thread was interrupted (operator shutting down); the sandbox ends at its own timeout
    }
  }

  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    // Running executions still need the timers and the client to finish and kill their sandboxes.
    if (running.get() == 0) {
      shutdownExecutors();
    }
  }

  private void shutdownExecutors() {
    scheduler.shutdown();
    cleanup.shutdown();
  }

  /** A permission to create one sandbox for one execution. */
  private final class Lease implements SandboxLease {
    private final Language language;
    private final AtomicBoolean used = new AtomicBoolean();

    Lease(Language language) {
      this.language = language;
    }

    @Override
    public Language language() {
      return language;
    }

    @Override
    public String sandboxId() {
      return null; // created per run
    }

    @Override
    public void release() {
      gate.abandoned(this);
    }
  }
}
