package dev.sandboxes.operator;

import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.operator.backend.ExecutionThreads;
import dev.sandboxes.operator.backend.SandboxBackendFactory;
import dev.sandboxes.operator.codeexecution.CodeExecutionReconciler;
import dev.sandboxes.operator.codeexecution.ExecutionCachePruning;
import dev.sandboxes.operator.codeexecution.ExecutionQueue;
import dev.sandboxes.operator.codeexecution.ExecutionTracker;
import dev.sandboxes.operator.common.TriggerEventSource;
import dev.sandboxes.operator.config.OperatorConfig;
import dev.sandboxes.operator.events.EventRecorder;
import dev.sandboxes.operator.metrics.OperatorMetrics;
import dev.sandboxes.operator.sandboxprovider.ProviderRegistry;
import dev.sandboxes.operator.sandboxprovider.SandboxProviderReconciler;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.javaoperatorsdk.operator.Operator;
import io.javaoperatorsdk.operator.api.config.ControllerConfigurationOverrider;
import io.javaoperatorsdk.operator.api.config.LeaderElectionConfigurationBuilder;
import io.javaoperatorsdk.operator.monitoring.micrometer.MicrometerMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The operator wired by hand: both controllers, the provider registry, the execution queue and
 * tracker, events. Started by the `operator` command and, in-process, by the tests.
 */
public final class SandboxOperator implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(SandboxOperator.class);

  /**
   * CodeExecutions per page of the informer's list. A page is buffered whole before parsing, and an
   * object can be 1.5 MiB: 50 bound a page to 75 MiB in the worst case, and 5,000 executions to 100
   * requests.
   */
  static final long INFORMER_LIST_LIMIT = 50;

  /** How long the informers may take to list everything before the operator gives up starting. */
  static final Duration CACHE_SYNC_TIMEOUT = Duration.ofMinutes(5);

  private final Operator operator;
  private final ProviderRegistry registry;
  private final ExecutionTracker tracker;
  private final ExecutionQueue queue;
  private final EventRecorder events;
  private final PrometheusMeterRegistry meterRegistry;
  private final OperatorMetrics metrics;
  private final SandboxProviderReconciler providerReconciler;
  private final CodeExecutionReconciler executionReconciler;
  private final KubernetesClient informerClient;
  private volatile boolean stopped;

  /**
   * Builds (does not start) an operator on a client. The informers get a client of their own with
   * the same configuration, whose serialization leaves large fields out of the cache ({@link
   * ExecutionCachePruning}); {@code client} reads complete objects. The caller closes {@code
   * client}; stop() closes the other.
   */
  public SandboxOperator(
      KubernetesClient client,
      SandboxBackendFactory factory,
      OperatorConfig config,
      Consumer<io.javaoperatorsdk.operator.api.config.ConfigurationServiceOverrider> overrides) {
    Clock clock = Clock.systemUTC();
    this.informerClient = ExecutionCachePruning.informerClient(client);
    this.meterRegistry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    this.events = new EventRecorder(client);
    TriggerEventSource<CodeExecution> executionTriggers =
        new TriggerEventSource<>("execution-triggers");
    this.queue = new ExecutionQueue(executionTriggers::trigger);
    this.tracker = new ExecutionTracker(queue, executionTriggers::trigger, clock);
    // Each backend tells the queue, then its provider's reconciler (pool counts), about capacity.
    this.registry = new ProviderRegistry(factory, queue::capacityChanged);
    this.metrics = new OperatorMetrics(meterRegistry, registry, queue, clock);
    this.executionReconciler =
        new CodeExecutionReconciler(
            registry, queue, tracker, executionTriggers, events, metrics, clock, client);
    this.providerReconciler =
        new SandboxProviderReconciler(
            registry, config, events, metrics, clock, executionReconciler::providerBecameReady);
    this.operator =
        new Operator(
            o -> {
              o.withKubernetesClient(informerClient)
                  .withResourceCloner(
                      ExecutionCachePruning.cloner(informerClient.getKubernetesSerialization()))
                  // The reconcilers write status themselves, as whole-status PUTs on the copy's
                  // resourceVersion (common/StatusWriter), never through UpdateControl; SSA stays
                  // off
                  // for anything JOSDK writes: 1.20's server-side apply is beta and the mock server
                  // has none.
                  .withUseSSAToPatchPrimaryResource(false)
                  .withSSABasedCreateUpdateMatchForDependentResources(false)
                  .withCloseClientOnStop(false)
                  .withConcurrentReconciliationThreads(config.reconcileThreads())
                  .withReconciliationTerminationTimeout(Duration.ofSeconds(10))
                  // Listing thousands of CodeExecutions page by page from a busy API server can
                  // take
                  // minutes; JOSDK's default of 2 stops the operator, which then fails again on
                  // every restart.
                  .withCacheSyncTimeout(CACHE_SYNC_TIMEOUT)
                  .withMetrics(MicrometerMetrics.withoutPerResourceMetrics(meterRegistry));
              if (config.leaderElection()) {
                o.withLeaderElectionConfiguration(
                    LeaderElectionConfigurationBuilder.aLeaderElectionConfiguration(
                            config.leaseName())
                        .withLeaseNamespace(config.leaseNamespace())
                        .withIdentity(identity())
                        .build());
              }
              if (overrides != null) {
                overrides.accept(o);
              }
            });
    Set<String> namespaces = new HashSet<>(config.watchNamespaces());
    operator.register(providerReconciler, o -> watch(o, namespaces));
    operator.register(
        executionReconciler,
        o -> {
          watch(o, namespaces);
          // The first list of all CodeExecutions comes in pages: a page is held whole in memory
          // before it is parsed, and one CodeExecution can be 1.5 MiB.
          o.withInformerListLimit(INFORMER_LIST_LIMIT);
        });
  }

  private static <R extends io.fabric8.kubernetes.api.model.HasMetadata> void watch(
      ControllerConfigurationOverrider<R> overrider, Set<String> namespaces) {
    if (!namespaces.isEmpty()) {
      overrider.settingNamespaces(namespaces);
    }
  }

  public SandboxOperator start() {
    operator.start();
    LOG.info("sandbox-operator started");
    return this;
  }

  public Operator operator() {
    return operator;
  }

  public PrometheusMeterRegistry meterRegistry() {
    return meterRegistry;
  }

  public boolean stopping() {
    return stopped;
  }

  /** Lease holder identity: the pod name where there is one, else host and process. */
  private static String identity() {
    String pod = System.getenv("POD_NAME");
    if (pod != null && !pod.isBlank()) {
      return pod;
    }
    return java.lang.management.ManagementFactory.getRuntimeMXBean().getName();
  }

  public ExecutionTracker tracker() {
    return tracker;
  }

  public ExecutionQueue queue() {
    return queue;
  }

  public ProviderRegistry registry() {
    return registry;
  }

  /**
   * Graceful stop: in-flight executions get the grace period to finish and have their outcome
   * written; the rest are cancelled (their sandboxes destroyed) and finished as Interrupted by the
   * next operator that sees them.
   */
  public void stop(Duration grace) {
    if (stopped) {
      return;
    }
    stopped = true;
    tracker.drain(grace);
    // Cancelled runs end as soon as their sandboxes are destroyed; the still-running controller
    // writes every outcome (Interrupted for the cancelled ones), so nothing is left Running.
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (System.nanoTime() < deadline
        && (!tracker.active().isEmpty() || tracker.pendingOutcomes() > 0)) {
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    operator.stop();
    tracker.close();
    providerReconciler.close();
    registry.close();
    // Sandboxes are destroyed off the result path; give the last removals a moment before exiting.
    if (!ExecutionThreads.awaitTeardowns(Duration.ofSeconds(10))) {
      LOG.warn(
          "some sandboxes were still being destroyed at shutdown; each provider removes its leftovers on its next start");
    }
    events.close();
    informerClient.close();
    LOG.info("sandbox-operator stopped");
  }

  /**
   * Closes the client this operator made for its informers and its leader election, with no
   * graceful step. Crash tests call it beside closing the client they gave the operator: together
   * they cut it off the API server as a crash would (no status write, no Lease renewal or release).
   */
  public void closeOwnClientAbruptly() {
    informerClient.close();
  }

  @Override
  public void close() {
    stop(Duration.ofSeconds(10));
  }
}
