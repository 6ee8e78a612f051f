package dev.sandboxes.operator.bench;

import static dev.sandboxes.operator.bench.DockerBenchmark.percentile;
import static dev.sandboxes.operator.bench.DockerBenchmark.report;

import dev.sandboxes.api.ApiConstants;
import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionSpec;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.ExecutionLimits;
import dev.sandboxes.api.v1alpha1.ExecutionMode;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.Phase;
import dev.sandboxes.api.v1alpha1.ProviderReference;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.api.v1alpha1.RuntimeSpec;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.api.v1alpha1.SandboxProviderSpec;
import dev.sandboxes.api.v1alpha1.SandboxResources;
import dev.sandboxes.api.v1alpha1.SelfManagedSpec;
import dev.sandboxes.operator.Backends;
import dev.sandboxes.operator.SandboxOperator;
import dev.sandboxes.operator.backend.selfmanaged.SandboxPodSpecs;
import dev.sandboxes.operator.codeexecution.CodeExecutionStatusCalculator;
import dev.sandboxes.operator.config.IsolationPolicy;
import dev.sandboxes.operator.config.OperatorConfig;
import dev.sandboxes.operator.e2e.E2eCluster;
import dev.sandboxes.operator.execution.ExecutionRequest;
import dev.sandboxes.operator.metrics.OperatorMetrics;
import dev.sandboxes.operator.metrics.OperatorMetrics.ExecutionPhase;
import dev.sandboxes.operator.runner.RunnerProgram;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.node.v1.RuntimeClass;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.dsl.ExecWatch;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * hack/bench-selfmanaged: the SelfManaged provider on a real cluster, in one run. An operator runs
 * in-process against KUBECONFIG, watching a fresh namespace with one SelfManaged provider.
 * Measured: raw fabric8 exec of `python3 -c pass` into an idle pod built from a pool pod's spec (30
 * in a row, and one right before each one-at-a-time execution: the line's raw figures are those
 * paired ones); CodeExecution created → terminal status (seen by a watch) one at a time and at a
 * fixed rate with a warm pool; completions per second when a burst drains the pool and only the
 * refill feeds it; and the RSS of the operator jar, run as its own process, with thousands of
 * finished CodeExecutions in its cache. Prints figures; asserts nothing (targets are read by
 * people, not by a timed test).
 */
public final class SelfManagedBenchmark {

  private static final String PROVIDER = "bench-pool";
  private static final String PART_OF = "sandbox-operator-bench";

  /** The idle time before each one-at-a-time execution and before its paired raw exec. */
  private static final Duration PAIR_PAUSE = Duration.ofSeconds(1);

  /** The pod of the raw execs: a pool pod's spec, outside the pool. */
  private static final String RAW_POD = "bench-raw-exec";

  // Targets from the issue, and the anchor to beat.
  private static final double TARGET_P50_MS = 150;
  private static final double TARGET_RATIO = 1.3;
  private static final double TARGET_P99_MS = 400;
  private static final double TARGET_RSS_MB = 300;

  private final Options options;
  private final KubernetesClient client;
  private final String namespace;

  /** The raw pod's container, once it exists. */
  private String rawContainer;

  private final String rssNamespace;
  private final String controlPlaneNamespace;

  /** Node CPU seconds per exec of the runner into the raw pod (NaN until measured). */
  private double runnerExecCpu = Double.NaN;

  /** Node CPU seconds per pod in the churn (NaN until measured). */
  private double churnCpuPerPod = Double.NaN;

  private volatile SandboxOperator operator;
  private volatile KubernetesClient operatorClient;
  private volatile Process operatorProcess;
  private volatile SharedIndexInformer<CodeExecution> watch;
  private final Map<String, Sample> samples = new ConcurrentHashMap<>();

  /**
   * When a CodeExecution was created, when the watch first saw it Running and when terminal
   * (nanoTime), and the operator's own measure of its run (status.durationMillis).
   */
  private static final class Sample {
    final long created;
    volatile long running;
    volatile long terminal;
    volatile long durationMillis = -1;
    volatile Phase phase;
    volatile String reason;
    volatile String message;
    volatile String sandbox;

    Sample(long created) {
      this.created = created;
    }

    double millis() {
      return (terminal - created) / 1e6;
    }
  }

  record Options(
      int poolSize,
      String runtimeClass,
      String image,
      String cpu,
      int rawIterations,
      int warmup,
      int sequential,
      double rate,
      int count,
      int burst,
      int finished,
      int deadlineSeconds,
      Path operatorJar,
      String operatorMaxRam,
      List<String> operatorJavaOptions,
      int maxPoolSize,
      int churnPods,
      int churnCycles) {

    static Options parse(String[] args) {
      int poolSize = 10;
      String runtimeClass = "gvisor";
      String image = OperatorConfig.DEFAULT_RUNTIME_IMAGE;
      String cpu = null;
      int rawIterations = 50;
      int warmup = 20;
      int sequential = 20;
      double rate = 10;
      int count = 300;
      int burst = 100;
      int finished = 5000;
      int deadline = 300;
      Path jar = Path.of("operator/target/sandbox-operator.jar");
      String maxRam = "512m";
      List<String> javaOptions = List.of("-XX:MaxRAMPercentage=70", "-XX:+ExitOnOutOfMemoryError");
      int maxPoolSize = -1;
      int churnPods = 8;
      int churnCycles = 24;
      for (int i = 0; i < args.length; i++) {
        switch (args[i]) {
          case "--pool-size" -> poolSize = Integer.parseInt(args[++i]);
          case "--runtime-class" -> runtimeClass = args[++i];
          case "--image" -> image = args[++i];
          case "--cpu" -> cpu = args[++i];
          case "--raw-iterations" -> rawIterations = Integer.parseInt(args[++i]);
          case "--warmup" -> warmup = Integer.parseInt(args[++i]);
          case "--sequential" -> sequential = Integer.parseInt(args[++i]);
          case "--rate" -> rate = Double.parseDouble(args[++i]);
          case "--count" -> count = Integer.parseInt(args[++i]);
          case "--burst" -> burst = Integer.parseInt(args[++i]);
          case "--finished" -> finished = Integer.parseInt(args[++i]);
          case "--deadline-seconds" -> deadline = Integer.parseInt(args[++i]);
          case "--operator-jar" -> jar = Path.of(args[++i]);
          case "--operator-max-ram" -> maxRam = args[++i];
          case "--operator-java-options" ->
              javaOptions =
                  java.util.Arrays.stream(args[++i].trim().split("\\s+"))
                      .filter(o -> !o.isEmpty())
                      .toList();
          case "--max-pool-size" -> maxPoolSize = Integer.parseInt(args[++i]);
          case "--churn-pods" -> churnPods = Integer.parseInt(args[++i]);
          case "--churn-cycles" -> churnCycles = Integer.parseInt(args[++i]);
          default -> throw new IllegalArgumentException("unknown argument " + args[i]);
        }
      }
      if (maxPoolSize < 0) {
        maxPoolSize = Math.min(30, 3 * poolSize);
      }
      return new Options(
          poolSize,
          runtimeClass,
          image,
          cpu,
          rawIterations,
          warmup,
          sequential,
          rate,
          count,
          burst,
          finished,
          deadline,
          jar,
          maxRam,
          javaOptions,
          Math.max(poolSize, maxPoolSize),
          churnPods,
          churnCycles);
    }
  }

  private SelfManagedBenchmark(Options options, KubernetesClient client) {
    this.options = options;
    this.client = client;
    String suffix = UUID.randomUUID().toString().substring(0, 6);
    this.namespace = "bench-sm-" + suffix;
    this.rssNamespace = "bench-sm-rss-" + suffix;
    this.controlPlaneNamespace = "bench-sm-api-" + suffix;
  }

  public static void main(String[] args) throws Exception {
    Options options = Options.parse(args);
    KubernetesClient client = E2eCluster.connect();
    SelfManagedBenchmark bench = new SelfManagedBenchmark(options, client);
    Thread hook = new Thread(bench::cleanUp, "bench-cleanup");
    Runtime.getRuntime().addShutdownHook(hook);
    String summary;
    try {
      summary = bench.run();
    } finally {
      bench.cleanUp();
      Runtime.getRuntime().removeShutdownHook(hook);
    }
    System.out.println(summary); // the last line, after the clean-up's
    System.exit(0); // fabric8 and JOSDK leave non-daemon threads behind
  }

  /** Runs every phase and prints the figures; returns the summary line. */
  private String run() throws Exception {
    progress(
        "cluster %s, Kubernetes %s; load average %s",
        client.getMasterUrl(), client.getKubernetesVersion().getGitVersion(), loadAverage());
    RuntimeClass runtimeClass =
        client.resources(RuntimeClass.class).withName(options.runtimeClass()).get();
    if (runtimeClass == null) {
      throw new IllegalStateException("RuntimeClass " + options.runtimeClass() + " does not exist");
    }
    String handler = runtimeClass.getHandler();
    System.out.printf(
        "bench-selfmanaged: RuntimeClass %s has handler %s%s%n",
        options.runtimeClass(),
        handler,
        "runc".equals(handler) && !"runc".equals(options.runtimeClass())
            ? " -- NOT gVisor: on this cluster the RuntimeClass is backed by runc, so these are runc figures"
            : "");
    String cpu = options.cpu() != null ? options.cpu() : fittingCpu();
    System.out.printf(
        "bench-selfmanaged: poolSize=%d image=%s per-pod cpu limit=%s (request min(limit, 100m)) rate=%.1f/s count=%d"
            + " burst=%d finished=%d%n",
        options.poolSize(),
        options.image(),
        cpu,
        options.rate(),
        options.count(),
        options.burst(),
        options.finished());

    progress("installing the CRDs (create or update)");
    E2eCluster.installCrds(client);
    createNamespace(namespace);

    // 0. The node's raw pod churn capacity C, before any operator runs: pods of the pool's spec
    //    created -> Ready -> deleted (gone), churnPods at a time.
    double capacity =
        churn(
            SandboxPodSpecs.of(
                provider(namespace, options.poolSize(), cpu), Language.PYTHON, options.image()));

    progress("namespace %s; starting the operator in-process", namespace);
    OperatorConfig defaults = OperatorConfig.defaults();
    // The policy allows exactly the RuntimeClass measured (and its handler), said out loud: a runc
    // run is a comparison, never the product's default.
    IsolationPolicy policy =
        IsolationPolicy.defaults()
            .alsoAllowing(Set.of(), Set.of(options.runtimeClass()), Set.of(handler));
    System.out.printf(
        "bench-selfmanaged: isolation policy allows RuntimeClasses %s, handlers %s%n",
        IsolationPolicy.describe(policy.runtimeClasses()),
        IsolationPolicy.describe(policy.runtimeClassHandlers()));
    OperatorConfig config =
        new OperatorConfig(
            defaults.defaultRuntimeImage(),
            List.of(namespace),
            defaults.probeInterval(),
            defaults.reconcileThreads(),
            0,
            false,
            defaults.leaseName(),
            namespace,
            policy);
    operatorClient = new KubernetesClientBuilder().withConfig(Config.autoConfigure(null)).build();
    operator = new SandboxOperator(operatorClient, Backends.factory(), config, null).start();
    watch =
        client.resources(CodeExecution.class).inNamespace(namespace).inform(new TerminalWatch(), 0);

    SandboxProvider provider =
        client.resource(provider(namespace, options.poolSize(), cpu)).create();
    String providerUid = provider.getMetadata().getUid();
    progress("SandboxProvider %s created; waiting for Ready and a full pool", PROVIDER);
    awaitTrue("provider Ready", Duration.ofMinutes(3), this::providerReady);
    awaitWarm(providerUid);

    // 1. Raw exec into an idle pod with a pool pod's spec, outside the pool.
    List<Double> raw = rawExec(providerUid);

    // 2. Through the operator at a fixed rate, after an untimed warm-up of the same shape.
    if (options.warmup() > 0) {
      progress("warm-up: %d executions at %.1f/s (not counted)", options.warmup(), options.rate());
      paced("warmup", options.warmup(), options.rate());
      awaitWarm(providerUid);
    }
    // One at a time on a full, quiet pool: the operator's own cost per execution, without queueing.
    List<Double> sequential = new ArrayList<>();
    List<Double> paired = new ArrayList<>();
    List<Sample> sequentialSamples = new ArrayList<>();
    if (options.sequential() > 0) {
      progress(
          "sequential: %d executions, one at a time, each on a warm pool", options.sequential());
      Map<ExecutionPhase, double[]> phasesBefore = operatorPhases();
      for (int i = 0; i < options.sequential(); i++) {
        // Its raw exec right before it, on the same quiet pool, and each of the two after the
        // same pause: the ratio compares executions made under the same load, not two phases
        // half a minute apart on a busy node. Without the pause the first of the two ran on the
        // tail of the pool's refill (p50 359 ms for a raw exec, 207 for 30 in a row).
        awaitWarm(providerUid);
        Thread.sleep(PAIR_PAUSE.toMillis());
        paired.addAll(timedExecs(rawContainer, List.of("python3", "-c", "pass"), null, 0, 1));
        Thread.sleep(PAIR_PAUSE.toMillis());
        Sample sample = create(String.format("one-%05d", i));
        awaitAllTerminal(List.of(sample), null);
        if (sample.terminal != 0) {
          sequential.add(sample.millis());
          sequentialSamples.add(sample);
        }
      }
      if (!sequential.isEmpty()) {
        report("raw exec python3 -c pass, each right before one", paired);
        report("created -> terminal, one at a time", sequential);
        reportPhases(sequentialSamples);
        reportOperatorPhases(phasesBefore, operatorPhases());
      }
    }
    client.pods().inNamespace(namespace).withName(RAW_POD).withGracePeriod(0).delete();
    awaitWarm(providerUid);
    double pacedRate = Double.isNaN(capacity) || capacity <= 0 ? options.rate() : 0.5 * capacity;
    progress("paced: %d executions at %.2f/s (0.5 x C)", options.count(), pacedRate);
    List<Sample> paced = paced("paced", options.count(), pacedRate);
    List<Double> latencies =
        paced.stream().filter(s -> s.terminal != 0).map(Sample::millis).toList();
    int lost = (int) paced.stream().filter(s -> s.terminal == 0).count();
    int failed =
        (int) paced.stream().filter(s -> s.terminal != 0 && s.phase != Phase.SUCCEEDED).count();
    if (!latencies.isEmpty()) {
      report("created -> terminal (operator)", latencies);
    }
    printFailures(paced);

    // 3. Sustained: a burst drains the pool; the steady part is paced by the refill.
    awaitWarm(providerUid);
    Burst burst = burst();
    double perSecond = burst.perSecond();

    // 3b. The API work no operator can skip, per execution, with no pod: what bounds the
    //     saturation ratio on a node whose CPU the churn already fills.
    awaitWarm(providerUid);
    Thread.sleep(5_000); // the burst's last used pods are still being deleted
    reportBounds(burst, controlPlane());

    // 4. RSS of the operator jar with many finished CodeExecutions in its cache.
    double rssMb = rss();

    // The paired raw execs when there are any (same load as the samples), else the raw phase's.
    List<Double> rawBasis = paired.isEmpty() ? raw : paired;
    double rawP50 = rawBasis.isEmpty() ? Double.NaN : percentile(rawBasis, 50);
    double rawP99 = rawBasis.isEmpty() ? Double.NaN : percentile(rawBasis, 99);
    double p50 = sequential.isEmpty() ? Double.NaN : percentile(sequential, 50);
    double p99 = sequential.isEmpty() ? Double.NaN : percentile(sequential, 99);
    double pacedP50 = latencies.isEmpty() ? Double.NaN : percentile(latencies, 50);
    double ratio = p50 / rawP50;
    double pacedRatio = pacedP50 / rawP50;
    double saturation = perSecond / capacity;
    progress(
        "done; load average %s; %d CPUs",
        loadAverage(), Runtime.getRuntime().availableProcessors());
    System.out.println();
    System.out.println(
        "targets (issue 13; p50/p99 one at a time on a warm pool, raw exec and C measured in this run):");
    target(
        "ratio_p50 <= 1.0 (p50 / raw exec p50)",
        ratio <= 1.0,
        String.format(Locale.ROOT, "%.2fx (%.1f / %.1f ms)", ratio, p50, rawP50));
    target(
        "p99 <= 1.5 x raw exec p99",
        p99 <= 1.5 * rawP99,
        String.format(Locale.ROOT, "%.1f / %.1f ms", p99, rawP99));
    target(
        "paced at 0.5 x C: paced_ratio_p50 <= 1.3",
        pacedRatio <= 1.3,
        String.format(Locale.ROOT, "%.2fx (%.1f ms at %.2f/s)", pacedRatio, pacedP50, pacedRate));
    target(
        "saturation: per_second / C >= 0.9",
        saturation >= 0.9,
        String.format(Locale.ROOT, "%.2f (%.2f / %.2f per s)", saturation, perSecond, capacity));
    target("zero lost", lost == 0, Integer.toString(lost));
    target("zero failed", failed == 0, Integer.toString(failed));
    target(
        "operator RSS <= 200 MB with " + options.finished() + " finished",
        rssMb <= 200,
        String.format(Locale.ROOT, "%.0f MB", rssMb));
    if ("runc".equals(handler) && !"runc".equals(options.runtimeClass())) {
      System.out.println(
          "note: RuntimeClass " + options.runtimeClass() + " is backed by runc here, not gVisor");
    }
    return String.format(
        Locale.ROOT,
        "bench-selfmanaged runtime=%s raw_p50_ms=%.1f raw_p99_ms=%.1f p50_ms=%.1f p99_ms=%.1f ratio_p50=%.2f capacity_per_s=%.2f"
            + " per_second=%.2f saturation_ratio=%.2f paced_p50_ms=%.1f paced_ratio_p50=%.2f lost=%d failed=%d rss_mb=%.0f",
        handler,
        rawP50,
        rawP99,
        p50,
        p99,
        ratio,
        capacity,
        perSecond,
        saturation,
        pacedP50,
        pacedRatio,
        lost,
        failed,
        rssMb);
  }

  /**
   * The node's raw pod churn: churnPods workers each create a pod of the pool's spec, wait for it
   * to be Ready, delete it (grace 0) and wait until it is gone, churnCycles cycles in all. No
   * operator runs yet. Returns cycles per second.
   */
  private double churn(io.fabric8.kubernetes.api.model.PodSpec spec) throws Exception {
    progress(
        "churn: %d cycles of create -> Ready -> deleted, %d pods at a time, no operator running",
        options.churnCycles(), options.churnPods());
    long busyBefore = ProcessProbe.nodeBusyTicks();
    Map<String, java.util.concurrent.CompletableFuture<Void>> readyWaits =
        new java.util.concurrent.ConcurrentHashMap<>();
    Map<String, java.util.concurrent.CompletableFuture<Void>> goneWaits =
        new java.util.concurrent.ConcurrentHashMap<>();
    var informer =
        client
            .pods()
            .inNamespace(namespace)
            .withLabel("sandboxes.dev/bench-churn", "true")
            .inform(
                new ResourceEventHandler<Pod>() {
                  @Override
                  public void onAdd(Pod pod) {
                    check(pod);
                  }

                  @Override
                  public void onUpdate(Pod old, Pod pod) {
                    check(pod);
                  }

                  @Override
                  public void onDelete(Pod pod, boolean unknown) {
                    var gone = goneWaits.get(pod.getMetadata().getName());
                    if (gone != null) {
                      gone.complete(null);
                    }
                  }

                  private void check(Pod pod) {
                    var wait = readyWaits.get(pod.getMetadata().getName());
                    if (wait != null && ready(pod)) {
                      wait.complete(null);
                    }
                  }
                },
                0);
    AtomicInteger next = new AtomicInteger();
    AtomicInteger errors = new AtomicInteger();
    List<Double> startMillis = Collections.synchronizedList(new ArrayList<>());
    ExecutorService workers = Executors.newFixedThreadPool(options.churnPods());
    long start = System.nanoTime();
    try {
      List<Future<?>> running = new ArrayList<>();
      for (int w = 0; w < options.churnPods(); w++) {
        running.add(
            workers.submit(
                () -> {
                  int i;
                  while ((i = next.getAndIncrement()) < options.churnCycles()) {
                    String name = String.format("bench-churn-%05d", i);
                    readyWaits.put(name, new java.util.concurrent.CompletableFuture<>());
                    goneWaits.put(name, new java.util.concurrent.CompletableFuture<>());
                    try {
                      long created = System.nanoTime();
                      client
                          .resource(
                              new PodBuilder()
                                  .withNewMetadata()
                                  .withName(name)
                                  .withNamespace(namespace)
                                  .addToLabels("app.kubernetes.io/part-of", PART_OF)
                                  .addToLabels("sandboxes.dev/bench-churn", "true")
                                  .endMetadata()
                                  .withSpec(spec)
                                  .build())
                          .create();
                      readyWaits.get(name).get(5, TimeUnit.MINUTES);
                      startMillis.add((System.nanoTime() - created) / 1e6);
                      client
                          .pods()
                          .inNamespace(namespace)
                          .withName(name)
                          .withGracePeriod(0)
                          .delete();
                      goneWaits.get(name).get(5, TimeUnit.MINUTES);
                    } catch (Exception e) {
                      errors.incrementAndGet();
                      System.out.println("  churn pod " + name + " failed: " + e);
                      client
                          .pods()
                          .inNamespace(namespace)
                          .withName(name)
                          .withGracePeriod(0)
                          .delete();
                    }
                  }
                  return null;
                }));
      }
      for (Future<?> f : running) {
        f.get();
      }
    } finally {
      workers.shutdownNow();
      informer.stop();
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    int cycles = options.churnCycles() - errors.get();
    double perSecond = cycles / seconds;
    churnCpuPerPod =
        (ProcessProbe.nodeBusyTicks() - busyBefore) / ProcessProbe.TICKS_PER_SECOND / cycles;
    if (!startMillis.isEmpty()) {
      report("churn: pod created -> Ready", startMillis);
    }
    System.out.printf(
        Locale.ROOT,
        "  churn: %d cycles in %.1f s (%d failed): C = %.2f pods/s; node CPU %.2f s per pod%n",
        cycles,
        seconds,
        errors.get(),
        perSecond,
        churnCpuPerPod);
    return perSecond;
  }

  /**
   * A CPU limit that lets the pool, the pods being replaced and the raw pod be scheduled: the
   * provider default (1 CPU, requesting 100m) where that fits.
   */
  private String fittingCpu() {
    long allocatable = 0;
    for (var node : client.nodes().list().getItems()) {
      Quantity cpu = node.getStatus().getAllocatable().get("cpu");
      if (cpu != null) {
        allocatable +=
            Quantity.getAmountInBytes(cpu).multiply(java.math.BigDecimal.valueOf(1000)).longValue();
      }
    }
    // Pods request min(limit, 100m) CPU: with room for the pool, a couple of claimed pods and the
    // raw pod at that request, they keep the provider's default limit of one CPU.
    if (allocatable >= 100L * (options.poolSize() + 3)) {
      return "1";
    }
    // Otherwise: poolSize idle, up to poolSize being created, a few claimed, the raw pod.
    long millis = allocatable / (2L * options.poolSize() + 4);
    millis = Math.max(10, Math.min(1000, millis / 10 * 10));
    return millis + "m";
  }

  private SandboxProvider provider(String ns, int poolSize, String cpu) {
    SandboxProvider provider = new SandboxProvider();
    provider.setMetadata(new ObjectMetaBuilder().withName(PROVIDER).withNamespace(ns).build());
    SandboxProviderSpec spec = new SandboxProviderSpec();
    spec.setType(ProviderType.SELF_MANAGED);
    SelfManagedSpec selfManaged = new SelfManagedSpec();
    selfManaged.setRuntimeClassName(options.runtimeClass());
    selfManaged.setPoolSize(poolSize);
    selfManaged.setMaxPoolSize(Math.max(poolSize, options.maxPoolSize()));
    SandboxResources resources = new SandboxResources();
    resources.setCpu(cpu);
    selfManaged.setResources(resources);
    spec.setSelfManaged(selfManaged);
    RuntimeSpec python = new RuntimeSpec();
    python.setLanguage(Language.PYTHON);
    python.setImage(options.image());
    spec.setRuntimes(List.of(python));
    ExecutionLimits limits = new ExecutionLimits();
    // The queue, not a concurrency cap, decides: every benchmark execution may be admitted at once.
    limits.setMaxConcurrentExecutions(Math.max(1000, Math.max(options.count(), options.burst())));
    spec.setLimits(limits);
    provider.setSpec(spec);
    return provider;
  }

  private boolean providerReady() {
    SandboxProvider p =
        client.resources(SandboxProvider.class).inNamespace(namespace).withName(PROVIDER).get();
    return p != null
        && p.getStatus() != null
        && Conditions.isTrue(p.getStatus().getConditions(), ConditionTypes.READY);
  }

  /**
   * Untimed: waits until the pool holds poolSize Ready idle pods and nothing else (no claimed or
   * dying pod), each with its pre-started runner loaded (the operator's sandbox_pool_warm): a
   * one-at-a-time sample then measures a warm pool, not a runner still loading in a pod created a
   * moment ago.
   */
  private void awaitWarm(String providerUid) {
    awaitTrue(
        "a warm pool of " + options.poolSize(),
        Duration.ofMinutes(5),
        () -> {
          List<Pod> pods =
              client
                  .pods()
                  .inNamespace(namespace)
                  .withLabel(ApiConstants.PROVIDER_UID_LABEL, providerUid)
                  .list()
                  .getItems();
          long idleReady =
              pods.stream()
                  .filter(
                      p ->
                          p.getMetadata().getDeletionTimestamp() == null
                              && "idle"
                                  .equals(p.getMetadata().getLabels().get(ApiConstants.STATE_LABEL))
                              && ready(p))
                  .count();
          return idleReady >= options.poolSize()
              && pods.size() == idleReady
              && warmRunners() >= options.poolSize();
        });
  }

  /** Idle pool pods whose runner waits, as the operator's gauge reports them. */
  private double warmRunners() {
    Gauge warm =
        operator
            .meterRegistry()
            .find("sandbox.pool.warm")
            .tags("type", "SelfManaged", "language", "python")
            .gauge();
    return warm == null ? 0 : warm.value();
  }

  private List<Double> rawExec(String providerUid) throws Exception {
    Pod template =
        client
            .pods()
            .inNamespace(namespace)
            .withLabel(ApiConstants.PROVIDER_UID_LABEL, providerUid)
            .list()
            .getItems()
            .get(0);
    rawContainer = template.getSpec().getContainers().get(0).getName();
    String container = rawContainer;
    // The same spec (image, RuntimeClass, security context, resources, /tmp), none of the pool's
    // labels or owner: the pool never sees it.
    Pod rawPod =
        new PodBuilder()
            .withNewMetadata()
            .withName(RAW_POD)
            .withNamespace(namespace)
            .addToLabels("app.kubernetes.io/part-of", PART_OF)
            .endMetadata()
            .withSpec(template.getSpec())
            .editSpec()
            .withNodeName(null)
            .endSpec()
            .build();
    client.resource(rawPod).create();
    progress(
        "raw: pod bench-raw-exec (a pool pod's spec, outside the pool); %d warm-up + %d timed execs of python3 -c pass",
        Math.min(10, options.rawIterations()), options.rawIterations());
    awaitTrue(
        "pod bench-raw-exec Ready",
        Duration.ofMinutes(2),
        () -> ready(client.pods().inNamespace(namespace).withName(RAW_POD).get()));
    int warmup = Math.min(10, options.rawIterations());
    List<Double> raw =
        timedExecs(
            container, List.of("python3", "-c", "pass"), null, warmup, options.rawIterations());
    report("raw exec python3 -c pass", raw);
    // The command the operator runs (the runner, the envelope on stdin), still without the
    // operator:
    // tells the runner's own cost from the operator's.
    ExecutionRequest request =
        new ExecutionRequest(
            namespace,
            "raw",
            UUID.randomUUID().toString(),
            Language.PYTHON,
            ExecutionMode.SCRIPT,
            "main",
            "pass",
            null,
            Duration.ofSeconds(30),
            65536);
    timedExecs(container, RunnerProgram.command(Language.PYTHON), request, warmup, 0);
    // The node's CPU per exec of the runner, beyond what the idle node (operator, full pool)
    // spends meanwhile: what the pre-started runner costs each execution.
    double idlePerSecond = idleCpuPerSecond(Duration.ofSeconds(5));
    long busyBefore = ProcessProbe.nodeBusyTicks();
    long start = System.nanoTime();
    List<Double> runner =
        timedExecs(
            container, RunnerProgram.command(Language.PYTHON), request, 0, options.rawIterations());
    double seconds = (System.nanoTime() - start) / 1e9;
    runnerExecCpu =
        runner.isEmpty()
            ? Double.NaN
            : ((ProcessProbe.nodeBusyTicks() - busyBefore) / ProcessProbe.TICKS_PER_SECOND
                    - idlePerSecond * seconds)
                / runner.size();
    report("raw exec of the runner (script pass)", runner);
    System.out.printf(
        Locale.ROOT,
        "  raw exec of the runner: node CPU %.3f s per exec (the idle node's %.2f CPU-s/s"
            + " subtracted)%n",
        runnerExecCpu,
        idlePerSecond);
    return raw; // the pod stays for the execs paired with the one-at-a-time samples
  }

  /**
   * Execs a command into the raw pod, untimed warm-up first; with a request, its envelope goes to
   * stdin.
   */
  private List<Double> timedExecs(
      String container, List<String> command, ExecutionRequest request, int warmup, int timed)
      throws Exception {
    List<Double> millis = new ArrayList<>();
    for (int i = 0; i < warmup + timed; i++) {
      byte[] stdin = request == null ? null : request.newEnvelope().line();
      long start = System.nanoTime();
      var target = client.pods().inNamespace(namespace).withName(RAW_POD).inContainer(container);
      try (ExecWatch exec =
          (stdin == null ? target : target.redirectingInput())
              .writingOutput(OutputStream.nullOutputStream())
              .writingError(OutputStream.nullOutputStream())
              .exec(command.toArray(String[]::new))) {
        if (stdin != null) {
          exec.getInput().write(stdin);
          exec.getInput().flush();
        }
        Integer code = exec.exitCode().get(60, TimeUnit.SECONDS);
        long elapsed = System.nanoTime() - start;
        if (code == null || code != 0) {
          // A raw exec that breaks (-1: the stream lost its exit status, as containerd's stream
          // server does under load) is counted and left out, not a reason to abandon the run.
          System.out.printf("  raw exec %d of %s exited %s: left out%n", i, command.get(0), code);
          continue;
        }
        if (i >= warmup) {
          millis.add(elapsed / 1e6);
        }
      }
    }
    return millis;
  }

  /**
   * Creates count executions at the configured rate; waits until all are terminal or the deadline
   * passes.
   */
  private List<Sample> paced(String prefix, int count, double rate) throws Exception {
    long periodNanos = (long) (1e9 / rate);
    ScheduledExecutorService ticker = Executors.newSingleThreadScheduledExecutor();
    ExecutorService creators = Executors.newFixedThreadPool(8);
    List<Sample> created = Collections.synchronizedList(new ArrayList<>());
    AtomicInteger next = new AtomicInteger();
    AtomicInteger createErrors = new AtomicInteger();
    try {
      ticker.scheduleAtFixedRate(
          () -> {
            int i = next.getAndIncrement();
            if (i < count) {
              creators.execute(
                  () -> {
                    try {
                      created.add(create(String.format("%s-%05d", prefix, i)));
                    } catch (RuntimeException e) {
                      createErrors.incrementAndGet();
                      System.out.println("  creating a CodeExecution failed: " + e.getMessage());
                    }
                  });
            }
          },
          0,
          periodNanos,
          TimeUnit.NANOSECONDS);
      awaitTrue(
          "all " + count + " created",
          Duration.ofSeconds((long) (count / rate) + 120),
          () -> created.size() + createErrors.get() >= count);
    } finally {
      ticker.shutdownNow();
      creators.shutdown();
    }
    awaitAllTerminal(created, prefix);
    return new ArrayList<>(created);
  }

  /**
   * Splits the burst's CPU per execution into churn, API work and the rest, and prints the bounds
   * they set on saturation_ratio when the node's CPU is full.
   */
  private void reportBounds(Burst burst, double controlPlaneCpu) {
    if (Double.isNaN(burst.nodeCpuPerExecution()) || Double.isNaN(controlPlaneCpu)) {
      return;
    }
    System.out.printf(
        Locale.ROOT,
        "  per execution in the burst: node CPU %.2f s = pod churn %.2f + the execution's API work"
            + " %.2f (measured with no pod) + the rest %.2f (this JVM's part of which %.2f s: the operator"
            + " beyond that API work, the benchmark's watch)%n",
        burst.nodeCpuPerExecution(),
        churnCpuPerPod,
        controlPlaneCpu,
        burst.nodeCpuPerExecution() - churnCpuPerPod - controlPlaneCpu,
        burst.jvmCpuPerExecution());
    System.out.printf(
        Locale.ROOT,
        "  bound: with the node's CPU full, saturation_ratio <= churn / (churn + API work) ="
            + " %.2f / %.2f = %.2f for any operator that runs each execution in a fresh pod%n",
        churnCpuPerPod,
        churnCpuPerPod + controlPlaneCpu,
        churnCpuPerPod / (churnCpuPerPod + controlPlaneCpu));
    if (!Double.isNaN(runnerExecCpu)) {
      System.out.printf(
          Locale.ROOT,
          "  bound with one exec of the runner per execution (%.2f s, the raw phase's): saturation_ratio"
              + " <= %.2f / (%.2f + %.2f + %.2f) = %.2f%n",
          runnerExecCpu,
          churnCpuPerPod,
          churnCpuPerPod,
          controlPlaneCpu,
          runnerExecCpu,
          churnCpuPerPod / (churnCpuPerPod + controlPlaneCpu + runnerExecCpu));
    }
  }

  /** The burst's steady completion rate and the CPU it cost per execution (NaN: unmeasured). */
  private record Burst(double perSecond, double nodeCpuPerExecution, double jvmCpuPerExecution) {}

  /**
   * Creates the burst as fast as a few threads can; the rate of the steady part is what the refill
   * allows.
   */
  private Burst burst() throws Exception {
    int n = options.burst();
    progress(
        "burst: %d executions created at once (pool %d; the rest wait for the refill)",
        n, options.poolSize());
    ExecutorService creators = Executors.newFixedThreadPool(8);
    List<Future<Sample>> futures = new ArrayList<>();
    long busyBefore = ProcessProbe.nodeBusyTicks();
    long jvmBefore = ProcessProbe.cpuTicks(ProcessHandle.current().pid());
    long start = System.nanoTime();
    for (int i = 0; i < n; i++) {
      String name = String.format("burst-%05d", i);
      futures.add(creators.submit(() -> create(name)));
    }
    List<Sample> created = new ArrayList<>();
    for (Future<Sample> f : futures) {
      created.add(f.get());
    }
    creators.shutdown();
    progress("burst: created in %.1f s", (System.nanoTime() - start) / 1e9);
    awaitAllTerminal(created, "burst");
    // Where the node's CPU went, per execution, against the churn's per pod: this JVM is the
    // operator and the benchmark's own creates and watch.
    double nodeCpu = (ProcessProbe.nodeBusyTicks() - busyBefore) / ProcessProbe.TICKS_PER_SECOND;
    double jvmCpu =
        (ProcessProbe.cpuTicks(ProcessHandle.current().pid()) - jvmBefore)
            / ProcessProbe.TICKS_PER_SECOND;
    List<Long> done =
        created.stream().filter(s -> s.terminal != 0).map(s -> s.terminal).sorted().toList();
    long failed =
        created.stream().filter(s -> s.terminal != 0 && s.phase != Phase.SUCCEEDED).count();
    printFailures(created);
    if (done.size() < 2) {
      return new Burst(Double.NaN, Double.NaN, Double.NaN);
    }
    double overall = done.size() / ((done.get(done.size() - 1) - start) / 1e9);
    // Steady part: after the warm pool's pods were used, until the last completion.
    int from = Math.min(options.poolSize(), done.size() - 2);
    double steady = (done.size() - 1 - from) / ((done.get(done.size() - 1) - done.get(from)) / 1e9);
    System.out.printf(
        Locale.ROOT,
        "  burst of %d: %d terminal (%d not Succeeded) in %.1f s; overall %.1f/s; steady (completion %d..%d) %.1f/s;"
            + " node CPU %.2f s per execution, of it this JVM (operator, benchmark) %.2f s%n",
        n,
        done.size(),
        failed,
        (done.get(done.size() - 1) - start) / 1e9,
        overall,
        from + 1,
        done.size(),
        steady,
        nodeCpu / done.size(),
        jvmCpu / done.size());
    return new Burst(steady, nodeCpu / done.size(), jvmCpu / done.size());
  }

  /** The node's busy CPU seconds per second while this process waits for {@code window}. */
  private static double idleCpuPerSecond(Duration window) throws IOException, InterruptedException {
    long before = ProcessProbe.nodeBusyTicks();
    long start = System.nanoTime();
    Thread.sleep(window.toMillis());
    return (ProcessProbe.nodeBusyTicks() - before)
        / ProcessProbe.TICKS_PER_SECOND
        / ((System.nanoTime() - start) / 1e9);
  }

  /**
   * The API work of one execution that no operator can skip, with no pod and no operator: the
   * CodeExecution's create, its {@code Started} and final status writes (the statuses the operator
   * writes), each event delivered to two informers (the operator's and the benchmark's). Runs in a
   * namespace of its own, {@code burst} lifecycles 4 at a time; the node's idle CPU rate, measured
   * for 10 s right before, is subtracted. Returns node CPU seconds per lifecycle.
   */
  private double controlPlane() throws Exception {
    int n = Math.max(20, options.burst());
    createNamespace(controlPlaneNamespace);
    Map<String, java.util.concurrent.CompletableFuture<Void>> seen = new ConcurrentHashMap<>();
    ResourceEventHandler<CodeExecution> terminalSeen =
        new ResourceEventHandler<>() {
          @Override
          public void onAdd(CodeExecution cx) {}

          @Override
          public void onUpdate(CodeExecution old, CodeExecution cx) {
            if (CodeExecutionStatusCalculator.isTerminal(cx.getStatus())) {
              var wait = seen.get(cx.getMetadata().getName());
              if (wait != null) {
                wait.complete(null);
              }
            }
          }

          @Override
          public void onDelete(CodeExecution cx, boolean unknown) {}
        };
    // Two watchers, as in a real run: the operator's informer and the benchmark's.
    List<SharedIndexInformer<CodeExecution>> informers = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      informers.add(
          client
              .resources(CodeExecution.class)
              .inNamespace(controlPlaneNamespace)
              .inform(terminalSeen, 0));
    }
    progress(
        "control plane: measuring the idle node for 10 s, then %d executions' API work with no pod"
            + " (create, Started, final status; two informers)",
        n);
    double idlePerSecond = idleCpuPerSecond(Duration.ofSeconds(10));
    ExecutorService writers = Executors.newFixedThreadPool(4);
    long busyBefore = ProcessProbe.nodeBusyTicks();
    long start = System.nanoTime();
    try {
      List<Future<?>> futures = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        String name = String.format("api-%05d", i);
        seen.put(name, new java.util.concurrent.CompletableFuture<>());
        futures.add(
            writers.submit(
                () -> {
                  CodeExecution cx =
                      client.resource(execution(controlPlaneNamespace, name)).create();
                  Instant started = Instant.now();
                  String pod = "sbx-" + PROVIDER + "-py-" + name;
                  cx.setStatus(
                      CodeExecutionStatusCalculator.started(
                          cx, PROVIDER, ProviderType.SELF_MANAGED, pod, started));
                  cx = client.resource(cx).updateStatus();
                  cx.setStatus(FinishedStatuses.succeededQuietly(cx, pod, started, Instant.now()));
                  client.resource(cx).updateStatus();
                  seen.get(name).get(1, TimeUnit.MINUTES);
                  return null;
                }));
      }
      for (Future<?> f : futures) {
        f.get();
      }
    } finally {
      writers.shutdownNow();
      informers.forEach(SharedIndexInformer::stop);
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    double busy = (ProcessProbe.nodeBusyTicks() - busyBefore) / ProcessProbe.TICKS_PER_SECOND;
    double perExecution = (busy - idlePerSecond * seconds) / n;
    System.out.printf(
        Locale.ROOT,
        "  control plane: %d executions' API work in %.1f s: node CPU %.3f s per execution"
            + " (%.3f before subtracting the idle node's %.2f CPU-s/s)%n",
        n,
        seconds,
        perExecution,
        busy / n,
        idlePerSecond);
    return perExecution;
  }

  private static void printFailures(List<Sample> samples) {
    samples.stream()
        .filter(s -> s.terminal != 0 && s.phase != Phase.SUCCEEDED)
        .limit(5)
        .forEach(s -> System.out.printf("  failed: %s (%s): %s%n", s.phase, s.reason, s.message));
  }

  private Sample create(String name) {
    CodeExecution cx = execution(namespace, name);
    Sample sample = new Sample(System.nanoTime());
    samples.put(name, sample);
    client.resource(cx).create();
    return sample;
  }

  private static CodeExecution execution(String ns, String name) {
    CodeExecution cx = new CodeExecution();
    cx.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(ns).build());
    CodeExecutionSpec spec = new CodeExecutionSpec();
    ProviderReference ref = new ProviderReference();
    ref.setName(PROVIDER);
    spec.setProviderRef(ref);
    spec.setLanguage(Language.PYTHON);
    spec.setMode(ExecutionMode.SCRIPT);
    spec.setCode("pass");
    cx.setSpec(spec);
    return cx;
  }

  /** Waits for the samples to be terminal; what names them in progress lines (null: quiet). */
  private void awaitAllTerminal(List<Sample> created, String what) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(options.deadlineSeconds());
    long lastReport = System.nanoTime();
    while (System.nanoTime() < deadline) {
      long terminal = created.stream().filter(s -> s.terminal != 0).count();
      if (terminal == created.size()) {
        break;
      }
      if (what != null && System.nanoTime() - lastReport > TimeUnit.SECONDS.toNanos(5)) {
        progress("%s: %d/%d terminal", what, terminal, created.size());
        lastReport = System.nanoTime();
      }
      Thread.sleep(50);
    }
    long terminal = created.stream().filter(s -> s.terminal != 0).count();
    if (what == null) {
      return;
    }
    progress(
        "%s: %d/%d terminal%s",
        what,
        terminal,
        created.size(),
        terminal < created.size()
            ? " (the rest lost: not terminal within " + options.deadlineSeconds() + " s)"
            : "");
  }

  /**
   * Where one execution's time goes, p50 per phase over the samples the watch saw Running:
   * admission (created -> Running seen: admission, claim, the Started write, a watch delivery), in
   * the sandbox (status.durationMillis: the exec or envelope, the interpreter, the code, its exit)
   * and the rest (Running seen -> terminal seen, minus the run: the final write, a watch delivery).
   */
  private static void reportPhases(List<Sample> samples) {
    List<Sample> seen =
        samples.stream().filter(s -> s.running != 0 && s.durationMillis >= 0).toList();
    if (seen.isEmpty()) {
      System.out.println("  phases: no sample was seen Running by the watch");
      return;
    }
    List<Double> admission = seen.stream().map(s -> (s.running - s.created) / 1e6).toList();
    List<Double> inSandbox = seen.stream().map(s -> (double) s.durationMillis).toList();
    List<Double> rest =
        seen.stream().map(s -> (s.terminal - s.running) / 1e6 - s.durationMillis).toList();
    System.out.printf(
        Locale.ROOT,
        "  phases (p50 over %d): admission_ms=%.1f in_sandbox_ms=%.1f rest_ms=%.1f%n",
        seen.size(),
        percentile(admission, 50),
        percentile(inSandbox, 50),
        percentile(rest, 50));
    // The p99 of a short series is its slowest sample: say where that one's time went.
    int slowest = 0;
    for (int i = 1; i < seen.size(); i++) {
      if (seen.get(i).millis() > seen.get(slowest).millis()) {
        slowest = i;
      }
    }
    Sample worst = seen.get(slowest);
    System.out.printf(
        Locale.ROOT,
        "  slowest (#%d of %d, sandbox %s): total_ms=%.1f admission_ms=%.1f in_sandbox_ms=%d"
            + " rest_ms=%.1f%n",
        samples.indexOf(worst) + 1,
        samples.size(),
        worst.sandbox,
        worst.millis(),
        admission.get(slowest),
        worst.durationMillis,
        rest.get(slowest));
  }

  /** The operator's phase timer now: count and total ms per phase. */
  private Map<ExecutionPhase, double[]> operatorPhases() {
    Map<ExecutionPhase, double[]> phases = new EnumMap<>(ExecutionPhase.class);
    for (ExecutionPhase phase : ExecutionPhase.values()) {
      Timer timer =
          operator
              .meterRegistry()
              .find(OperatorMetrics.EXECUTION_PHASE_TIMER)
              .tag("phase", phase.tag())
              .timer();
      phases.put(
          phase,
          timer == null
              ? new double[] {0, 0}
              : new double[] {timer.count(), timer.totalTime(TimeUnit.MILLISECONDS)});
    }
    return phases;
  }

  /**
   * The same executions seen from inside the operator: the mean of each phase of its phase timer
   * between two readings (admit: decision -> Started stored; run: -> run ended; record: -> final
   * status stored). What admission and the rest add beyond these is the informer's and the
   * benchmark's watch deliveries.
   */
  private static void reportOperatorPhases(
      Map<ExecutionPhase, double[]> before, Map<ExecutionPhase, double[]> after) {
    StringBuilder line = new StringBuilder("  operator phases (mean over");
    double count = after.get(ExecutionPhase.RUN)[0] - before.get(ExecutionPhase.RUN)[0];
    line.append(String.format(Locale.ROOT, " %.0f):", count));
    for (ExecutionPhase phase : ExecutionPhase.values()) {
      double n = after.get(phase)[0] - before.get(phase)[0];
      double total = after.get(phase)[1] - before.get(phase)[1];
      line.append(
          String.format(Locale.ROOT, " %s_ms=%.1f", phase.tag(), n == 0 ? Double.NaN : total / n));
    }
    System.out.println(line);
  }

  /** Timestamps the first Running and terminal statuses the watch delivers for each execution. */
  private final class TerminalWatch implements ResourceEventHandler<CodeExecution> {
    @Override
    public void onAdd(CodeExecution cx) {
      seen(cx);
    }

    @Override
    public void onUpdate(CodeExecution old, CodeExecution cx) {
      seen(cx);
    }

    @Override
    public void onDelete(CodeExecution cx, boolean unknown) {}

    private void seen(CodeExecution cx) {
      long now = System.nanoTime();
      Sample sample = samples.get(cx.getMetadata().getName());
      if (!CodeExecutionStatusCalculator.isTerminal(cx.getStatus())) {
        if (sample != null
            && sample.running == 0
            && cx.getStatus() != null
            && cx.getStatus().getPhase() == Phase.RUNNING) {
          sample.running = now;
        }
        return;
      }
      if (sample != null && sample.terminal == 0) {
        sample.phase = cx.getStatus().getPhase();
        sample.reason = Conditions.reason(cx.getStatus().getConditions(), ConditionTypes.SUCCEEDED);
        sample.message = cx.getStatus().getMessage();
        if (cx.getStatus().getSandbox() != null) {
          sample.sandbox = cx.getStatus().getSandbox().getId();
        }
        Long duration = cx.getStatus().getDurationMillis();
        sample.durationMillis = duration != null ? duration : -1;
        sample.terminal = now;
      }
    }
  }

  /**
   * Creates the finished CodeExecutions (status written directly, as the operator would), then
   * starts the operator jar on that namespace and reads its VmRSS once it is idle and after a GC.
   */
  private double rss() throws Exception {
    createNamespace(rssNamespace);
    // A provider as the executions name it, with no pods: the operator holds its backend too.
    client.resource(provider(rssNamespace, 0, "100m")).create();
    int n = options.finished();
    progress(
        "rss: creating %d finished CodeExecutions in %s (create + PUT /status, 16 threads)",
        n, rssNamespace);
    ExecutorService writers = Executors.newFixedThreadPool(16);
    AtomicInteger written = new AtomicInteger();
    long start = System.nanoTime();
    List<Future<?>> futures = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      String name = String.format("done-%05d", i);
      futures.add(
          writers.submit(
              () -> {
                CodeExecution cx = client.resource(execution(rssNamespace, name)).create();
                Instant now = Instant.now();
                cx.setStatus(
                    FinishedStatuses.succeededQuietly(
                        cx, "sbx-" + PROVIDER + "-py-" + name, now.minusMillis(120), now));
                client.resource(cx).updateStatus();
                int w = written.incrementAndGet();
                if (w % 1000 == 0) {
                  progress("rss: %d/%d written", w, n);
                }
                return null;
              }));
    }
    for (Future<?> f : futures) {
      f.get();
    }
    writers.shutdown();
    List<String> command =
        new ArrayList<>(List.of("java", "-XX:MaxRAM=" + options.operatorMaxRam()));
    command.addAll(options.operatorJavaOptions());
    command.addAll(List.of("-jar", options.operatorJar().toString(), "operator"));
    progress(
        "rss: %d written in %.1f s; starting %s as its own process (%s, MALLOC_ARENA_MAX=%s)",
        n,
        (System.nanoTime() - start) / 1e9,
        options.operatorJar(),
        String.join(" ", command.subList(1, command.size() - 3)),
        System.getenv().getOrDefault("MALLOC_ARENA_MAX", "unset"));

    Path log = Files.createTempFile("bench-selfmanaged-operator-", ".log");
    ProcessBuilder builder =
        new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
    builder.environment().put("SANDBOX_WATCH_NAMESPACES", rssNamespace);
    builder.environment().put("SANDBOX_HEALTH_PORT", "0");
    builder.environment().remove("JAVA_TOOL_OPTIONS");
    Process process = builder.start();
    operatorProcess = process;
    long pid = process.pid();
    progress("rss: operator pid %d, log %s", pid, log);
    awaitTrue(
        "the operator process started",
        Duration.ofMinutes(3),
        () -> {
          if (!process.isAlive()) {
            throw new IllegalStateException(
                "the operator process exited " + process.exitValue() + "; see " + log);
          }
          return read(log).contains("sandbox-operator started");
        });
    // Idle: it read all executions into its cache and reconciled each once (no writes for finished
    // ones).
    awaitTrue(
        "the operator process idle",
        Duration.ofMinutes(3),
        () -> {
          long before = ProcessProbe.cpuTicks(pid);
          Thread.sleep(3000);
          return ProcessProbe.cpuTicks(pid) - before
              < 15; // under 5% of a CPU over 3 s (100 ticks/s)
        });
    double idleMb = ProcessProbe.vmKb(pid, "VmRSS") / 1024.0;
    if (ProcessProbe.jcmd(pid, "GC.run") == null) {
      System.out.println("  (jcmd not available: no GC before the reading)");
    }
    Thread.sleep(2000);
    double afterGcMb = ProcessProbe.vmKb(pid, "VmRSS") / 1024.0;
    // How much of it is heap the JVM keeps committed rather than live objects.
    String heap = ProcessProbe.jcmd(pid, "GC.heap_info");
    var heapMatch =
        heap == null
            ? null
            : java.util.regex.Pattern.compile("total (\\d+)K, used (\\d+)K").matcher(heap);
    if (heapMatch != null && heapMatch.find()) {
      System.out.printf(
          Locale.ROOT,
          "  operator heap after the GC: %.0f MB used of %.0f MB committed%n",
          Long.parseLong(heapMatch.group(2)) / 1024.0,
          Long.parseLong(heapMatch.group(1)) / 1024.0);
    }
    double peakMb = ProcessProbe.vmKb(pid, "VmHWM") / 1024.0;
    long provisionErrors = read(log).lines().filter(l -> l.contains(" ERROR ")).count();
    System.out.printf(
        Locale.ROOT,
        "  operator process RSS with %d finished CodeExecutions: %.0f MB idle, %.0f MB after"
            + " a GC (peak %.0f MB); %d ERROR log lines%n",
        n,
        idleMb,
        afterGcMb,
        peakMb,
        provisionErrors);
    stopOperatorProcess();
    return afterGcMb;
  }

  private static String read(Path file) throws IOException {
    return Files.readString(file, StandardCharsets.UTF_8);
  }

  private void createNamespace(String name) {
    client
        .namespaces()
        .resource(
            new NamespaceBuilder()
                .withNewMetadata()
                .withName(name)
                .addToLabels("app.kubernetes.io/part-of", PART_OF)
                .endMetadata()
                .build())
        .create();
    awaitTrue(
        "default ServiceAccount in " + name,
        Duration.ofSeconds(60),
        () -> client.serviceAccounts().inNamespace(name).withName("default").get() != null);
  }

  private void stopOperatorProcess() {
    ProcessProbe.stop(operatorProcess);
    operatorProcess = null;
  }

  /**
   * Idempotent: stops what this run started and deletes its namespaces (also from the shutdown
   * hook).
   */
  private synchronized void cleanUp() {
    stopOperatorProcess();
    if (watch != null) {
      watch.stop();
      watch = null;
    }
    if (operator != null) {
      operator.stop(Duration.ofSeconds(5));
      operator = null;
      operatorClient.close();
    }
    List<String> deleting = new ArrayList<>();
    for (String ns : List.of(namespace, rssNamespace, controlPlaneNamespace)) {
      try {
        if (client.namespaces().withName(ns).get() != null) {
          client.namespaces().withName(ns).delete();
          deleting.add(ns);
        }
      } catch (RuntimeException e) {
        System.out.println("  deleting namespace " + ns + " failed: " + e.getMessage());
      }
    }
    // Gone before the next run starts: a namespace of a thousand executions and a few gVisor pods
    // still being deleted would load the next run's capacity and raw measurements.
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
    long lastReport = System.nanoTime();
    while (!deleting.isEmpty() && System.nanoTime() < deadline) {
      deleting.removeIf(ns -> client.namespaces().withName(ns).get() == null);
      if (!deleting.isEmpty() && System.nanoTime() - lastReport > TimeUnit.SECONDS.toNanos(10)) {
        progress("waiting for namespaces %s to be deleted", deleting);
        lastReport = System.nanoTime();
      }
      try {
        Thread.sleep(500);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
    progress(
        deleting.isEmpty()
            ? "deleted the namespaces"
            : "namespaces " + deleting + " still being deleted after 3 minutes");
  }

  private static boolean ready(Pod pod) {
    return pod != null
        && pod.getStatus() != null
        && pod.getStatus().getConditions() != null
        && pod.getStatus().getConditions().stream()
            .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
  }

  /** A condition check that may throw. */
  private interface Check {
    boolean met() throws Exception;
  }

  private static void awaitTrue(String what, Duration timeout, Check check) {
    long deadline = System.nanoTime() + timeout.toNanos();
    Exception last = null;
    while (System.nanoTime() < deadline) {
      try {
        if (check.met()) {
          return;
        }
      } catch (IllegalStateException e) {
        throw e;
      } catch (Exception e) {
        last = e;
      }
      try {
        Thread.sleep(250);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted waiting for " + what, e);
      }
    }
    throw new IllegalStateException(
        "timed out after "
            + timeout.toSeconds()
            + " s waiting for "
            + what
            + (last == null ? "" : " (last error: " + last.getMessage() + ")"));
  }

  private static String loadAverage() {
    try {
      return Files.readString(Path.of("/proc/loadavg")).trim();
    } catch (IOException e) {
      return "unknown";
    }
  }

  private static void progress(String format, Object... args) {
    System.out.printf(
        "[%tT] %s%n", System.currentTimeMillis(), String.format(Locale.ROOT, format, args));
  }

  private static void target(String what, boolean met, String measured) {
    System.out.printf("  %-45s %-22s %s%n", what, measured, met ? "met" : "MISSED");
  }
}
