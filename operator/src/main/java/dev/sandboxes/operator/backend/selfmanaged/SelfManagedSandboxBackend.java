package dev.sandboxes.operator.backend.selfmanaged;

import dev.sandboxes.api.ApiConstants;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.PoolStatus;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.api.v1alpha1.SandboxProviderReason;
import dev.sandboxes.operator.backend.ProbeResult;
import dev.sandboxes.operator.backend.RunControl;
import dev.sandboxes.operator.backend.SandboxBackend;
import dev.sandboxes.operator.backend.SandboxLease;
import dev.sandboxes.operator.backend.StartFailure;
import dev.sandboxes.operator.config.IsolationPolicy;
import dev.sandboxes.operator.execution.ExecutionOutcome;
import dev.sandboxes.operator.execution.ExecutionRequest;
import dev.sandboxes.operator.execution.Termination;
import dev.sandboxes.operator.provider.BackendContext;
import dev.sandboxes.operator.provider.ProviderSettings;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.node.v1.RuntimeClass;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Clock;
import java.time.Duration;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * SelfManaged provider: warm pools of locked-down pods in the provider's namespace, run by a
 * RuntimeClass (gVisor by default), one execution per pod. See DESIGN.md in this package.
 */
public final class SelfManagedSandboxBackend implements SandboxBackend {

  /** Claims older than the longest allowed run plus this are swept as forgotten. */
  private static final Duration CLAIM_EXPIRY_MARGIN = Duration.ofMinutes(5);

  /**
   * How long an execution waits for its pod's pre-started runner when the exec is still being
   * opened (normally well under a second); after that it execs a fresh runner.
   */
  private static final Duration RUNNER_OPENING_WAIT = Duration.ofSeconds(10);

  private final KubernetesClient client;
  private final ProviderSettings provider;
  private final String providerUid;
  private final SelfManagedSettings settings;
  private final IsolationPolicy policy;
  private final PodExec exec;
  private final ScheduledExecutorService executor;
  private final Clock clock = Clock.systemUTC();
  private final PodPool pool;
  private final WarmRunners warmRunners;
  private final AtomicBoolean closed = new AtomicBoolean();

  /**
   * Whether the RuntimeClass's handler gives each pod its own kernel (gVisor): per-run pids limit.
   */
  private volatile boolean limitProcesses;

  private final Duration sandboxDeathSettleWait;

  public SelfManagedSandboxBackend(BackendContext context) {
    this(context, null);
  }

  /**
   * @param exec how commands reach pods; null for the exec API (tests pass a scripted one)
   */
  public SelfManagedSandboxBackend(BackendContext context, PodExec exec) {
    this(context, exec, PodExecution.SANDBOX_DEATH_SETTLE_WAIT);
  }

  /**
   * @param sandboxDeathSettleWait how long a run that ended like a dead sandbox waits for its pod
   *     to say so; tests whose fake kubelet never will shorten it
   */
  SelfManagedSandboxBackend(BackendContext context, PodExec exec, Duration sandboxDeathSettleWait) {
    if (context.client() == null) {
      throw new IllegalStateException(
          "SelfManaged providers run pods in a cluster; without a Kubernetes client (the run command) use a Docker provider");
    }
    this.client = context.client();
    this.provider = context.settings();
    this.providerUid = context.providerUid();
    this.settings = SelfManagedSettings.of(context.spec().getSelfManaged());
    this.policy = context.config().isolationPolicy();
    this.sandboxDeathSettleWait = sandboxDeathSettleWait;
    this.exec = exec != null ? exec : new KubernetesPodExec(client);
    this.executor =
        Executors.newScheduledThreadPool(4, daemonThreads("selfmanaged-" + provider.name()));
    Map<Language, SandboxPodTemplate> templates = new EnumMap<>(Language.class);
    for (ProviderSettings.Runtime runtime : provider.runtimes().values()) {
      templates.put(
          runtime.language(),
          new SandboxPodTemplate(
              provider, providerUid, settings, runtime.language(), runtime.image()));
    }
    Duration claimExpiry =
        Duration.ofSeconds(provider.limits().maxTimeoutSeconds()).plus(CLAIM_EXPIRY_MARGIN);
    // Opening an exec blocks until the API server upgrades the connection: not on the pool's
    // threads.
    this.warmRunners =
        new WarmRunners(
            this.exec,
            provider.namespace(),
            language -> PodExecution.runnerCommand(language, limitProcesses, settings.pidsLimit()),
            dev.sandboxes.operator.backend.ExecutionThreads.engineCalls(),
            RUNNER_OPENING_WAIT);
    this.pool =
        new PodPool(
            client,
            provider.namespace(),
            providerUid,
            provider.name(),
            settings.poolSize(),
            settings.maxPoolSize(),
            templates,
            claimExpiry,
            executor,
            context.capacityListener(),
            clock,
            warmRunners);
  }

  @Override
  public ProviderType type() {
    return ProviderType.SELF_MANAGED;
  }

  @Override
  public ProbeResult probe() {
    String runtimeClass = settings.runtimeClassName();
    RuntimeClass found;
    try {
      found = client.resources(RuntimeClass.class).withName(runtimeClass).get();
    } catch (KubernetesClientException e) {
      return ProbeResult.notReady(
          SandboxProviderReason.BACKEND_UNREACHABLE,
          "Reading RuntimeClass " + runtimeClass + " failed: " + e.getMessage());
    }
    if (found == null) {
      // No pod is created without the RuntimeClass: it would run under the node's default runtime.
      pool.allowCreation(false);
      return ProbeResult.notReady(
          SandboxProviderReason.RUNTIME_CLASS_NOT_FOUND,
          "RuntimeClass "
              + runtimeClass
              + " (spec.selfManaged.runtimeClassName) does not exist; install gVisor and"
              + " create the RuntimeClass, or name an existing one");
    }
    if (!policy.allowsRuntimeClassHandler(found.getHandler())) {
      // The name alone proves nothing: a RuntimeClass called gvisor may well run plain runc.
      pool.allowCreation(false);
      return ProbeResult.notReady(
          SandboxProviderReason.POLICY_VIOLATION,
          "RuntimeClass "
              + runtimeClass
              + " (spec.selfManaged.runtimeClassName) has handler "
              + found.getHandler()
              + ", which the operator's isolation policy does not allow (allowed handlers: "
              + IsolationPolicy.describe(policy.runtimeClassHandlers())
              + "); no sandbox pod is created");
    }
    if (!settings.egressCidrs().isEmpty() && withoutPodNetwork(found)) {
      // Refused rather than half-kept: the pods would start, and every allowed connection would
      // fail.
      pool.allowCreation(false);
      return ProbeResult.notReady(
          SandboxProviderReason.EGRESS_UNSUPPORTED,
          "spec.selfManaged.egress allows "
              + String.join(", ", settings.egressCidrs())
              + ", but RuntimeClass "
              + runtimeClass
              + " gives pods no network (annotation "
              + ApiConstants.POD_NETWORK_ANNOTATION
              + ": none), so no allowed address could be reached; use egress policy Deny, or a RuntimeClass whose"
              + " pods have a network; no sandbox pod is created");
    }
    limitProcesses = SandboxProcessLimit.appliesTo(found.getHandler());
    try {
      // The policy exists before the first pod does, so no sandbox ever runs without it.
      SandboxNetworkPolicy.ensure(
          client, SandboxNetworkPolicy.build(provider, providerUid, settings));
    } catch (KubernetesClientException e) {
      return ProbeResult.notReady(
          SandboxProviderReason.BACKEND_UNREACHABLE,
          "Creating NetworkPolicy "
              + SandboxNetworkPolicy.name(provider)
              + " failed: "
              + e.getMessage());
    }
    pool.allowCreation(true);
    Optional<PodPool.Problem> problem = pool.problem();
    if (problem.isPresent()) {
      return ProbeResult.notReady(problem.get().reason(), problem.get().message());
    }
    String egress =
        settings.egressCidrs().isEmpty()
            ? "no egress"
            : "egress to " + String.join(", ", settings.egressCidrs()) + " only";
    String processes =
        limitProcesses
            ? "at most " + settings.pidsLimit() + " processes per execution"
            : "processes limited only by the node's podPidsLimit (handler "
                + found.getHandler()
                + ")";
    return ProbeResult.reachable(
        "RuntimeClass "
            + runtimeClass
            + " exists (handler "
            + found.getHandler()
            + "); NetworkPolicy "
            + SandboxNetworkPolicy.name(provider)
            + " allows no ingress and "
            + egress
            + "; "
            + processes
            + "; "
            + provider.runtimes().size()
            + " runtime(s), pool size "
            + settings.poolSize()
            + (settings.maxPoolSize() > settings.poolSize()
                ? " growing with demand up to " + settings.maxPoolSize()
                : "")
            + ".");
  }

  /** Starts the pool: watches this provider's pods, takes over or removes leftovers, fills up. */
  @Override
  public void start() {
    try {
      pool.start();
    } catch (KubernetesClientException e) {
      throw new IllegalStateException(
          "Watching the sandbox pods in namespace "
              + provider.namespace()
              + " failed: "
              + e.getMessage(),
          e);
    }
  }

  /** Whether the RuntimeClass declares that its pods get no network interface but loopback. */
  private static boolean withoutPodNetwork(RuntimeClass runtimeClass) {
    Map<String, String> annotations = runtimeClass.getMetadata().getAnnotations();
    return annotations != null
        && "none".equals(annotations.get(ApiConstants.POD_NETWORK_ANNOTATION));
  }

  /**
   * Pool pods that cannot pull their image or start (a container waiting with such a reason, or a
   * pod that ended before it was used): the pool's problem, by stage. A pod the API server refused
   * to create is not a start failure; the probe reports it as SandboxPodFailed.
   */
  @Override
  public Optional<StartFailure> startFailure() {
    return pool.problem()
        .filter(
            p ->
                p.reason() == SandboxProviderReason.SANDBOX_START_FAILING
                    || p.reason() == SandboxProviderReason.IMAGE_PULL_FAILED)
        .map(p -> new StartFailure(p.reason(), p.message(), null));
  }

  @Override
  public Optional<SandboxLease> tryAcquire(Language language) {
    if (closed.get() || !pool.started()) {
      return Optional.empty();
    }
    return pool.claim(language).map(pod -> new Lease(language, pod, pool));
  }

  @Override
  public ExecutionOutcome execute(
      SandboxLease lease, ExecutionRequest request, RunControl control) {
    String pod = lease.sandboxId();
    if (!pool.stillCreatedHere(pod)) {
      // Exec goes by name: a pod deleted since the claim and recreated under the same name by
      // someone else must not receive the code. Not deleted either: it is not ours.
      pool.forget(pod);
      return ExecutionOutcome.failure(
          Termination.SANDBOX_FAILED,
          pod,
          null,
          clock.instant(),
          "The sandbox pod "
              + pod
              + " was deleted or replaced after it was claimed, before the code was sent;"
              + " the code did not run");
    }
    // Started is stored, so the code may go now, with no API call before it: the pod is marked
    // used here (never claimable again), and its claim label follows only if the run lasts past
    // CLAIM_RECORD_DELAY. Beside Started or beside a short run, that PUT cost 30-50 ms on a small
    // node (DESIGN.md); no second envelope can reach the pod either way.
    pool.markUsed(pod);
    // The pod's name is the lease's sandbox id, which the write-ahead Started status already
    // recorded: a restarted operator can find and delete it without control.sandboxAssigned.
    try {
      return new PodExecution(
              client,
              exec,
              provider.namespace(),
              settings,
              clock,
              limitProcesses,
              sandboxDeathSettleWait)
          .run(pod, request, control, pool::delete, warmRunners.take(pod).orElse(null));
    } catch (RuntimeException e) {
      return ExecutionOutcome.failure(
          Termination.SANDBOX_FAILED,
          pod,
          null,
          clock.instant(),
          "The sandbox pod " + pod + " failed during the execution: " + PodExecution.describe(e));
    } finally {
      pool.release(pod, control.outcomeStored());
    }
  }

  @Override
  public Optional<ExecutionOutcome> recover(String executionUid, String sandboxId) {
    // A pod keeps no record of a run it was executing when the operator stopped: unknown.
    return Optional.empty();
  }

  @Override
  public void discard(String executionUid, String sandboxId) {
    if (sandboxId == null) {
      return;
    }
    Pod pod;
    try {
      pod = client.pods().inNamespace(provider.namespace()).withName(sandboxId).get();
    } catch (KubernetesClientException e) {
      return; // the claim sweep deletes it later
    }
    // Only pods of this provider (owner reference, not a label anyone can set): the id comes from
    // a status a user could have written.
    if (pool.ownedByProvider(sandboxId, pod)) {
      pool.delete(sandboxId);
    }
  }

  /** The pool, for tests that change its timings. */
  PodPool pool() {
    return pool;
  }

  @Override
  public List<PoolStatus> pools() {
    return pool.status();
  }

  @Override
  public Map<Language, Integer> startingSandboxes() {
    return pool.starting();
  }

  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    pool.close();
    // Queued pod creations still run (and delete what they create, the pool being closed).
    executor.shutdown();
  }

  private static java.util.concurrent.ThreadFactory daemonThreads(String prefix) {
    AtomicInteger count = new AtomicInteger();
    return r -> {
      Thread thread = new Thread(r, prefix + "-" + count.incrementAndGet());
      thread.setDaemon(true);
      return thread;
    };
  }

  /** A claimed pod. */
  private record Lease(Language language, String sandboxId, PodPool pool, AtomicBoolean released)
      implements SandboxLease {
    Lease(Language language, String sandboxId, PodPool pool) {
      this(language, sandboxId, pool, new AtomicBoolean());
    }

    @Override
    public void release() {
      if (released.compareAndSet(false, true)) {
        pool.giveBack(sandboxId);
      }
    }
  }
}
