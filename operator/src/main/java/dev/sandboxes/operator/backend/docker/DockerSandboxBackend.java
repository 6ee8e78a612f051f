package dev.sandboxes.operator.backend.docker;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.command.CreateContainerResponse;
import com.github.dockerjava.api.exception.DockerException;
import com.github.dockerjava.api.exception.NotFoundException;
import com.github.dockerjava.api.model.Capability;
import com.github.dockerjava.api.model.Container;
import com.github.dockerjava.api.model.HostConfig;
import com.github.dockerjava.api.model.Info;
import com.github.dockerjava.api.model.Version;
import dev.sandboxes.api.ApiConstants;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.PoolStatus;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.api.v1alpha1.SandboxProviderReason;
import dev.sandboxes.operator.backend.ExecutionThreads;
import dev.sandboxes.operator.backend.ProbeResult;
import dev.sandboxes.operator.backend.RunControl;
import dev.sandboxes.operator.backend.SandboxBackend;
import dev.sandboxes.operator.backend.SandboxLease;
import dev.sandboxes.operator.backend.StartFailure;
import dev.sandboxes.operator.backend.StartFailures;
import dev.sandboxes.operator.backend.pool.StartBackoff;
import dev.sandboxes.operator.backend.pool.WarmPool;
import dev.sandboxes.operator.execution.ExecutionOutcome;
import dev.sandboxes.operator.execution.ExecutionRequest;
import dev.sandboxes.operator.execution.Termination;
import dev.sandboxes.operator.provider.BackendContext;
import dev.sandboxes.operator.provider.ProviderSettings;
import dev.sandboxes.operator.runner.RunnerProgram;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Docker provider: warm pools of locked-down containers on a Docker-API engine (Docker, or podman's
 * compatible socket), one execution per container. See DESIGN.md in this package.
 */
public final class DockerSandboxBackend implements SandboxBackend {

  private static final Logger LOG = LoggerFactory.getLogger(DockerSandboxBackend.class);

  /** How long a teardown keeps trying to remove a container the engine could not stop. */
  static final Duration REMOVAL_PATIENCE = Duration.ofMinutes(3);

  private static final Duration MAX_REMOVAL_PAUSE = Duration.ofSeconds(15);
  private static final Pattern UNSAFE_NAME = Pattern.compile("[^a-zA-Z0-9_.-]");

  private final String providerUid;
  private final ProviderSettings provider;
  private final DockerSettings settings;
  private final DockerClient client;

  /** Container starts and pool retries; deadlines and removals never wait behind these. */
  private final ScheduledThreadPoolExecutor maintenance;

  private final Clock clock = Clock.systemUTC();
  private final Map<Language, WarmPool<String>> pools = new EnumMap<>(Language.class);
  private final ContainerBudget budget;
  private final StartFailures startFailures;

  /** Whether the engine is podman (its answer to /version), for the hints on start failures. */
  private volatile boolean podman;

  private final AtomicBoolean poolsStarted = new AtomicBoolean();
  private final AtomicInteger running = new AtomicInteger();
  private final AtomicInteger pendingRemovals = new AtomicInteger();
  private final AtomicBoolean closed = new AtomicBoolean();
  private final AtomicBoolean clientClosed = new AtomicBoolean();

  /** Runners waiting in idle containers, by container id (see WarmExec). */
  private final Map<String, WarmExec> warmRunners = new java.util.concurrent.ConcurrentHashMap<>();

  public DockerSandboxBackend(BackendContext context) {
    this.providerUid = context.providerUid();
    this.provider = context.settings();
    this.settings = DockerSettings.of(context.spec().getDocker());
    PemSslConfig tls = null;
    if (context.spec().getDocker().getTlsSecretRef() != null) {
      String secret = context.spec().getDocker().getTlsSecretRef().getName();
      tls =
          new PemSslConfig(
              context.secretValue(secret, "ca.crt"),
              context.secretValue(secret, "tls.crt"),
              context.secretValue(secret, "tls.key"));
    }
    this.client = DockerClients.create(settings.host(), tls);
    AtomicInteger threads = new AtomicInteger();
    this.maintenance =
        new ScheduledThreadPoolExecutor(
            4,
            r -> {
              Thread thread =
                  new Thread(r, "docker-pool-" + provider.name() + "-" + threads.incrementAndGet());
              thread.setDaemon(true);
              return thread;
            }) {
          @Override
          protected void terminated() {
            closeClientWhenUnused(); // the last container start may have handed a removal over
          }
        };
    // A pool retry waiting out its backoff is pointless once the backend is closed.
    maintenance.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
    // The operator's cap, lowered (never raised) by the provider's own maxConcurrentExecutions.
    this.budget =
        new ContainerBudget(
            context
                .config()
                .isolationPolicy()
                .dockerContainerCap(provider.limits().maxConcurrentExecutions()));
    this.startFailures = new StartFailures(context::redact, context.capacityListener());
    for (ProviderSettings.Runtime runtime : provider.runtimes().values()) {
      pools.put(
          runtime.language(),
          new WarmPool<>(
              runtime.language(),
              settings.poolSize(),
              containers(runtime.language(), runtime.image()),
              WarmPool.Threads.of(maintenance),
              context.capacityListener(),
              budget,
              startFailures,
              new StartBackoff()));
    }
  }

  @Override
  public ProviderType type() {
    return ProviderType.DOCKER;
  }

  @Override
  public ProbeResult probe() {
    Version version;
    Info info;
    try {
      client.pingCmd().exec();
      version = client.versionCmd().exec();
      info = client.infoCmd().exec();
    } catch (RuntimeException e) {
      return ProbeResult.notReady(
          SandboxProviderReason.BACKEND_UNREACHABLE,
          "The Docker API at " + settings.host() + " did not answer: " + rootMessage(e));
    }
    podman = isPodman(version);
    Optional<String> runtimeProblem = runtimeProblem(version, info);
    if (runtimeProblem.isPresent()) {
      return ProbeResult.notReady(SandboxProviderReason.RUNTIME_NOT_FOUND, runtimeProblem.get());
    }
    List<String> missing = new ArrayList<>();
    for (ProviderSettings.Runtime runtime : provider.runtimes().values()) {
      try {
        client.inspectImageCmd(runtime.image()).exec();
      } catch (NotFoundException e) {
        missing.add(runtime.image() + " (" + runtime.language() + ")");
      } catch (RuntimeException e) {
        return ProbeResult.notReady(
            SandboxProviderReason.BACKEND_UNREACHABLE,
            "The Docker API at "
                + settings.host()
                + " failed to inspect "
                + runtime.image()
                + ": "
                + rootMessage(e));
      }
    }
    if (!missing.isEmpty()) {
      return ProbeResult.notReady(
          SandboxProviderReason.IMAGE_NOT_FOUND,
          "The engine at "
              + settings.host()
              + " has no image "
              + String.join(", ", missing)
              + "; load it there (the operator never pulls)");
    }
    String engine =
        version.getVersion() == null ? "unknown version" : "version " + version.getVersion();
    Optional<StartFailure> failing = startFailure();
    if (failing.isPresent()) {
      // The pools keep retrying with backoff (up to 30 s apart): the first start that works clears
      // this.
      return ProbeResult.notReady(
          failing.get().reason(),
          "The engine at "
              + settings.host()
              + " answered, but sandbox containers fail to start (at least "
              + StartFailures.THRESHOLD
              + " times in a row): "
              + failing.get().describe());
    }
    return ProbeResult.reachable(
        "Docker API at "
            + settings.host()
            + " answered ("
            + engine
            + ", runtime "
            + settings.runtime()
            + ", "
            + pools.size()
            + " runtime(s), pool size "
            + settings.poolSize()
            + ", at most "
            + budget.max()
            + " containers running executions).");
  }

  /** The first call removes an earlier operator's leftover containers, then starts the pools. */
  @Override
  public void start() {
    if (poolsStarted.compareAndSet(false, true)) {
      removeLeftovers();
      pools.values().forEach(WarmPool::start);
    }
  }

  /**
   * Docker honours HostConfig.Runtime, so the runtime must be registered with the engine. Podman's
   * compatible API ignores it and runs its service's runtime (docs/container-engine.md), so there
   * the socket selects it and the runtime the service reports must be the one the spec names: a
   * runc socket must not pass for gVisor.
   */
  Optional<String> runtimeProblem(Version version, Info info) {
    List<com.github.dockerjava.api.model.VersionComponent> components =
        version.getComponents() == null ? List.of() : version.getComponents();
    if (isPodman(version)) {
      String actual =
          components.stream()
              .filter(c -> c.getName() != null && c.getName().startsWith("OCI Runtime"))
              .map(c -> c.getVersion() == null ? "" : c.getVersion().strip().split("\\s+")[0])
              .findFirst()
              .orElse("unknown");
      if (!actual.equals(settings.runtime())) {
        return Optional.of(
            "The podman service at "
                + settings.host()
                + " runs the OCI runtime "
                + actual
                + ", not "
                + settings.runtime()
                + " (podman ignores the per-container runtime, so each runtime needs its"
                + " own service socket); point spec.docker.host at the "
                + settings.runtime()
                + " socket or set spec.docker.runtime");
      }
      return Optional.empty();
    }
    Map<String, ?> runtimes = info.getRuntimes();
    if (runtimes == null || !runtimes.containsKey(settings.runtime())) {
      return Optional.of(
          "The engine at "
              + settings.host()
              + " has no OCI runtime "
              + settings.runtime()
              + " (it has "
              + (runtimes == null ? "none listed" : runtimes.keySet())
              + "); install it or set spec.docker.runtime");
    }
    return Optional.empty();
  }

  private static boolean isPodman(Version version) {
    return version.getComponents() != null
        && version.getComponents().stream().anyMatch(c -> "Podman Engine".equals(c.getName()));
  }

  @Override
  public Optional<StartFailure> startFailure() {
    return startFailures.current();
  }

  @Override
  public Optional<SandboxLease> tryAcquire(Language language) {
    WarmPool<String> pool = pools.get(language);
    if (pool == null || closed.get() || !poolsStarted.get()) {
      return Optional.empty();
    }
    return pool.take().map(id -> new Lease(language, id, pool));
  }

  @Override
  public ExecutionOutcome execute(
      SandboxLease lease, ExecutionRequest request, RunControl control) {
    Lease container = (Lease) lease;
    running.incrementAndGet();
    try {
      return new DockerExecution(client, clock, settings)
          .run(
              container.sandboxId(),
              request,
              control,
              this::destroyLater,
              warmRunners.remove(container.sandboxId()));
    } catch (RuntimeException e) {
      return ExecutionOutcome.failure(
          Termination.SANDBOX_FAILED,
          container.sandboxId(),
          null,
          clock.instant(),
          "The Docker engine failed during the execution: " + rootMessage(e));
    } finally {
      container.pool.finished(container.sandboxId());
      running.decrementAndGet();
      closeClientWhenUnused();
    }
  }

  @Override
  public void discard(String executionUid, String sandboxId) {
    if (sandboxId != null) {
      destroyLater(sandboxId);
    }
  }

  @Override
  public List<PoolStatus> pools() {
    return pools.values().stream().map(WarmPool::status).toList();
  }

  @Override
  public Map<Language, Integer> startingSandboxes() {
    Map<Language, Integer> starting = new EnumMap<>(Language.class);
    pools.forEach((language, pool) -> starting.put(language, pool.starting()));
    return starting;
  }

  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    pools.values().forEach(WarmPool::close);
    maintenance.shutdown();
    closeClientWhenUnused();
  }

  /**
   * Closes the client once the backend is closed and nothing needs it any more: running executions,
   * removals handed over, container starts under way (which may hand one over).
   */
  private void closeClientWhenUnused() {
    if (closed.get()
        && running.get() == 0
        && pendingRemovals.get() == 0
        && maintenance.isTerminated()
        && clientClosed.compareAndSet(false, true)) {
      try {
        client.close();
      } catch (IOException e) {
        LOG.debug("closing the Docker client: {}", e.toString());
      }
    }
  }

  /**
   * The containers of one runtime's warm pool: each created and started with its runner waiting.
   */
  private WarmPool.Sandboxes<String> containers(Language language, String image) {
    return new WarmPool.Sandboxes<>() {
      @Override
      public String create() {
        String id = createAndStart(language, image);
        try {
          // The runner starts now, while the container waits in the pool: claiming it then costs
          // one envelope write instead of an exec and an interpreter start.
          warmRunners.put(
              id,
              WarmExec.open(
                  client, id, RunnerProgram.command(language, RunnerProgram.ONCE_MARKER)));
        } catch (RuntimeException e) {
          LOG.debug(
              "pre-starting the runner in container {} failed: {}", shortId(id), rootMessage(e));
        }
        return id;
      }

      @Override
      public CompletableFuture<Void> destroyLater(String containerId) {
        return DockerSandboxBackend.this.destroyLater(containerId);
      }

      @Override
      public String describe(Exception e) {
        return engineMessage(e);
      }

      @Override
      public String hint(String error) {
        return startHint(error, podman, settings.host());
      }
    };
  }

  /**
   * Removes a container on a teardown thread: callers (deadlines, the end of a run) never wait for
   * an engine that may take seconds to remove it.
   */
  private CompletableFuture<Void> destroyLater(String containerId) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    pendingRemovals.incrementAndGet();
    ExecutionThreads.teardown(
        () -> {
          try {
            destroyPatiently(containerId);
          } finally {
            pendingRemovals.decrementAndGet();
            done.complete(null);
            closeClientWhenUnused();
          }
        });
    return done;
  }

  /** Creates and starts one locked-down container that idles until an execution is exec'd in. */
  private String createAndStart(Language language, String image) {
    HostConfig host =
        HostConfig.newHostConfig()
            .withNetworkMode(settings.network())
            .withMemory(settings.memoryBytes())
            .withMemorySwap(settings.memoryBytes())
            .withPidsLimit((long) settings.pidsLimit())
            .withNanoCPUs(settings.cpuMillis() * 1_000_000L)
            .withReadonlyRootfs(true)
            .withTmpFs(
                Map.of(
                    "/tmp",
                    "rw,size=" + DockerSettings.TMP_SIZE + ",nosuid,nodev,noexec,mode=1777"))
            .withCapDrop(Capability.ALL)
            .withSecurityOpts(List.of("no-new-privileges"))
            .withRuntime(settings.runtime());
    String name =
        "sbx-"
            + UNSAFE_NAME.matcher(provider.name()).replaceAll("-")
            + "-"
            + language.value()
            + "-"
            + UUID.randomUUID().toString().substring(0, 8);
    CreateContainerResponse created =
        client
            .createContainerCmd(image)
            .withName(name)
            .withHostConfig(host)
            .withUser("1000:1000")
            .withWorkingDir("/tmp")
            .withEnv("HOME=/tmp", "LANG=C.UTF-8", "PYTHONDONTWRITEBYTECODE=1")
            .withEntrypoint("sleep")
            .withCmd("infinity")
            .withNetworkDisabled("none".equals(settings.network()))
            .withLabels(
                Map.of(
                    ApiConstants.MANAGED_BY_LABEL,
                    ApiConstants.MANAGED_BY_VALUE,
                    ApiConstants.PROVIDER_LABEL,
                    provider.name(),
                    ApiConstants.PROVIDER_UID_LABEL,
                    providerUid,
                    ApiConstants.LANGUAGE_LABEL,
                    language.value()))
            .exec();
    try {
      client.startContainerCmd(created.getId()).exec();
    } catch (RuntimeException e) {
      destroyOnce(created.getId());
      throw e;
    }
    return created.getId();
  }

  /**
   * Removes a container, trying again while the engine cannot: after a fork bomb, the killed
   * processes can take longer to die than podman waits for them ("could not be stopped: given PIDs
   * did not die within timeout"), and a single attempt would leave the container behind for good.
   * Runs on a teardown thread, so waiting between attempts delays no outcome.
   */
  private void destroyPatiently(String containerId) {
    long giveUpAt = System.nanoTime() + REMOVAL_PATIENCE.toNanos();
    Duration pause = Duration.ofSeconds(1);
    String failure;
    while ((failure = destroy(containerId)) != null) {
      if (System.nanoTime() + pause.toNanos() > giveUpAt) {
        LOG.warn(
            "removing sandbox container {} failed for {} s, giving up: {}",
            shortId(containerId),
            REMOVAL_PATIENCE.toSeconds(),
            failure);
        return;
      }
      LOG.debug(
          "removing sandbox container {} failed, trying again in {} ms: {}",
          shortId(containerId),
          pause.toMillis(),
          failure);
      try {
        Thread.sleep(pause.toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      pause =
          pause.multipliedBy(2).compareTo(MAX_REMOVAL_PAUSE) > 0
              ? MAX_REMOVAL_PAUSE
              : pause.multipliedBy(2);
    }
  }

  /**
   * Kills and removes a container once. Returns null when it is gone (or already was), else the
   * engine's reason. A removal already in progress (409) may still fail, so it counts as a failure
   * to try again after. The container's pre-started runner, if any, is closed first.
   */
  private String destroy(String containerId) {
    WarmExec warm = warmRunners.remove(containerId);
    if (warm != null) {
      warm.close();
    }
    try {
      client.removeContainerCmd(containerId).withForce(true).withRemoveVolumes(true).exec();
      return null;
    } catch (DockerException e) {
      return isNoSuchContainer(e) ? null : e.getMessage();
    } catch (RuntimeException e) {
      return rootMessage(e);
    }
  }

  /** Logs a failed single removal attempt (engine start-up paths do not retry). */
  private void destroyOnce(String containerId) {
    String failure = destroy(containerId);
    if (failure != null) {
      LOG.warn("removing sandbox container {} failed: {}", shortId(containerId), failure);
    }
  }

  /** Containers of this provider left by an earlier operator process (crash, restart). */
  private void removeLeftovers() {
    try {
      List<Container> leftovers =
          client
              .listContainersCmd()
              .withShowAll(true)
              .withLabelFilter(Map.of(ApiConstants.PROVIDER_UID_LABEL, providerUid))
              .exec();
      for (Container container : leftovers) {
        destroyOnce(container.getId());
      }
      if (!leftovers.isEmpty()) {
        LOG.info(
            "removed {} sandbox container(s) left by an earlier run of SandboxProvider {}",
            leftovers.size(),
            provider.displayName());
      }
    } catch (RuntimeException e) {
      LOG.warn("listing leftover sandbox containers failed: {}", rootMessage(e));
    }
  }

  /**
   * How many containers may hold an execution at once; more executions wait (WaitingForSandbox).
   */
  public int maxClaimedContainers() {
    return budget.max();
  }

  /** Containers claimed or being removed now, across languages. */
  int claimedContainers() {
    return budget.inUse();
  }

  /** Whether every pool is full and no container is being started or destroyed. */
  public boolean warmAndQuiet() {
    return pools.values().stream()
        .allMatch(pool -> pool.quiet() && pool.status().getReady() >= pool.status().getDesired());
  }

  /**
   * Whether an idle container's pre-started runner is waiting for its envelope (tests check this).
   */
  boolean runnerWaiting(String containerId) {
    WarmExec warm = warmRunners.get(containerId);
    return warm != null && warm.alive();
  }

  /**
   * Takes a container's pre-started runner away from the pool's use (tests race it against others).
   */
  WarmExec takeWaitingRunner(String containerId) {
    return warmRunners.remove(containerId);
  }

  /** The engine client (tests exec into leased containers with it). */
  DockerClient client() {
    return client;
  }

  /**
   * Whether the backend is closed and nothing of it uses the engine any more (tests wait for this).
   */
  boolean released() {
    return clientClosed.get();
  }

  /** Whether a container still exists (tests check that sandboxes are destroyed). */
  boolean containerExists(String containerId) {
    try {
      client.inspectContainerCmd(containerId).exec();
      return true;
    } catch (RuntimeException e) {
      if (isNoSuchContainer(e)) {
        return false;
      }
      throw e;
    }
  }

  /** Docker answers 404 for a missing container; podman 4.3 sometimes 500 "no such container". */
  static boolean isNoSuchContainer(RuntimeException e) {
    return e instanceof NotFoundException
        || (e instanceof DockerException d
            && d.getHttpStatus() == 500
            && String.valueOf(d.getMessage()).contains("no such container"));
  }

  private static String shortId(String id) {
    return id.length() > 12 ? id.substring(0, 12) : id;
  }

  /**
   * The engine's own message for a failed call: docker-java reports "Status 500: {json}", whose
   * {@code message} field is what the engine said (podman quotes runc's error there).
   */
  static String engineMessage(Throwable e) {
    String text = rootMessage(e);
    int json = text.indexOf('{');
    if (json >= 0) {
      try {
        com.fasterxml.jackson.databind.JsonNode body =
            new com.fasterxml.jackson.databind.ObjectMapper().readTree(text.substring(json));
        if (body.hasNonNull("message")) {
          return body.get("message").asText().strip();
        }
      } catch (IOException | RuntimeException notJson) {
        // keep the text as it is
      }
    }
    return text;
  }

  /** One sentence on what to check when sandbox containers fail to start with this error. */
  static String startHint(String error, boolean podman, String host) {
    String lower = error == null ? "" : error.toLowerCase(java.util.Locale.ROOT);
    if (lower.contains("rlimit")) {
      return podman
          ? "Check the rlimits in the containers.conf of the podman service at "
              + host
              + ": default_ulimits must stay"
              + " at or below the hard limits of the user running it (docs/container-engine.md, \"Rlimits\")"
          : "Check the engine's default ulimits (--default-ulimit): they must stay at or below the hard limits of the"
              + " user running the engine (docs/container-engine.md, \"Rlimits\")";
    }
    if (lower.contains("executable file not found")
        || lower.contains("no such file or directory")) {
      return "The image lacks something the sandbox needs (sleep, python3 or node on its PATH); check spec.runtimes[].image";
    }
    if (lower.contains("cgroup")) {
      return "Check the engine's cgroup setup (cgroup_manager, and for crun the hybrid cgroup layout:"
          + " docs/container-engine.md)";
    }
    return "Check the engine's own log for this error; executions wait while the provider is not Ready";
  }

  static String rootMessage(Throwable e) {
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String message =
        root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
    return message.strip();
  }

  /** A claimed pool container. */
  private static final class Lease implements SandboxLease {
    private final Language language;
    private final String containerId;
    private final WarmPool<String> pool;
    private final AtomicBoolean released = new AtomicBoolean();

    Lease(Language language, String containerId, WarmPool<String> pool) {
      this.language = language;
      this.containerId = containerId;
      this.pool = pool;
    }

    @Override
    public Language language() {
      return language;
    }

    @Override
    public String sandboxId() {
      return containerId;
    }

    @Override
    public void release() {
      if (released.compareAndSet(false, true)) {
        pool.giveBack(containerId);
      }
    }
  }
}
