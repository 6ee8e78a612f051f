package dev.sandboxes.operator.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionReason;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.OutputLimitAction;
import dev.sandboxes.operator.codeexecution.CodeExecutionStatusCalculator;
import dev.sandboxes.operator.codeexecution.StatusBudget;
import dev.sandboxes.operator.e2e.E2eCluster;
import dev.sandboxes.operator.execution.ExecutionOutcome;
import dev.sandboxes.operator.execution.Termination;
import dev.sandboxes.operator.runner.RunnerReport;
import dev.sandboxes.operator.runner.StreamCapture;
import dev.sandboxes.operator.testing.TestResources;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * hack/bench-memory: what a tenant can do to the operator's memory. In a fresh namespace on a real
 * cluster it creates {@code --big} CodeExecutions with ~512 KiB of deeply nested arguments and a ~1
 * MiB finished status (written directly through the status subresource, as anyone allowed to write
 * statuses could), then {@code --finished} ordinary finished ones; then it starts the operator jar
 * as its own process with the chart's JVM flags and memory limit, waits until it has read
 * everything and is idle, checks that it still reconciles (a new invalid execution must be
 * answered), and reads its heap and RSS after a GC. Prints figures; asserts nothing. The last line:
 * {@code bench-memory objects=<n> heap_mib=<n> rss_mb=<n> survived=<true|false>}.
 */
public final class MemoryBenchmark {

  private static final String PART_OF = "sandbox-operator-bench";
  private static final String PROVIDER = "bench-provider";
  private static final double TARGET_RSS_MB = 200;
  private static final ObjectMapper JSON = new ObjectMapper();

  record Options(
      int big,
      int finished,
      int argumentsBytes,
      int statusBytes,
      int depth,
      int leafBytes,
      Path operatorJar,
      List<String> javaOptions,
      String memoryLimit) {

    static Options parse(String[] args) {
      int big = 200;
      int finished = 5000;
      int argumentsBytes = 510 * 1024; // just under the validator's 512 KiB
      int statusBytes = 1024 * 1024;
      int depth = 60; // within the validator's 64: these are valid executions
      int leafBytes = 16 * 1024;
      Path jar = Path.of("operator/target/sandbox-operator.jar");
      List<String> javaOptions = List.of("-XX:MaxRAMPercentage=70", "-XX:+ExitOnOutOfMemoryError");
      String memoryLimit = "512m";
      for (int i = 0; i < args.length; i++) {
        switch (args[i]) {
          case "--big" -> big = Integer.parseInt(args[++i]);
          case "--finished" -> finished = Integer.parseInt(args[++i]);
          case "--arguments-bytes" -> argumentsBytes = Integer.parseInt(args[++i]);
          case "--status-bytes" -> statusBytes = Integer.parseInt(args[++i]);
          case "--depth" -> depth = Integer.parseInt(args[++i]);
          case "--leaf-bytes" -> leafBytes = Integer.parseInt(args[++i]);
          case "--operator-jar" -> jar = Path.of(args[++i]);
          case "--java-options" ->
              javaOptions =
                  Arrays.stream(args[++i].trim().split("\\s+")).filter(s -> !s.isEmpty()).toList();
          case "--memory-limit" -> memoryLimit = args[++i];
          default -> throw new IllegalArgumentException("unknown argument " + args[i]);
        }
      }
      return new Options(
          big,
          finished,
          argumentsBytes,
          statusBytes,
          depth,
          leafBytes,
          jar,
          javaOptions,
          memoryLimit);
    }
  }

  private final Options options;
  private final KubernetesClient client;
  private final String namespace = "bench-memory-" + UUID.randomUUID().toString().substring(0, 6);
  private volatile Process operatorProcess;

  private MemoryBenchmark(Options options, KubernetesClient client) {
    this.options = options;
    this.client = client;
  }

  public static void main(String[] args) throws Exception {
    Options options = Options.parse(args);
    // Large objects on a busy API server take seconds: a client-side timeout would send them again.
    KubernetesClient client =
        new io.fabric8.kubernetes.client.KubernetesClientBuilder()
            .withConfig(
                new io.fabric8.kubernetes.client.ConfigBuilder(
                        E2eCluster.connect().getConfiguration())
                    .withRequestTimeout(300_000)
                    .build())
            .build();
    MemoryBenchmark bench = new MemoryBenchmark(options, client);
    Thread hook = new Thread(bench::cleanUp, "bench-cleanup");
    Runtime.getRuntime().addShutdownHook(hook);
    String summary;
    try {
      summary = bench.run();
    } finally {
      bench.cleanUp();
      Runtime.getRuntime().removeShutdownHook(hook);
    }
    System.out.println(summary); // the last line
    System.exit(0);
  }

  private String run() throws Exception {
    progress(
        "cluster %s, Kubernetes %s; operator jar %s; JVM options %s with a %s memory limit",
        client.getMasterUrl(),
        client.getKubernetesVersion().getGitVersion(),
        options.operatorJar(),
        options.javaOptions(),
        options.memoryLimit());
    E2eCluster.installCrds(client);
    client
        .namespaces()
        .resource(
            new NamespaceBuilder()
                .withNewMetadata()
                .withName(namespace)
                .addToLabels("app.kubernetes.io/part-of", PART_OF)
                .endMetadata()
                .build())
        .create();
    // Executions name this provider; it never becomes Ready (nothing listens there) and runs
    // nothing.
    var provider = TestResources.aDockerProvider(namespace, PROVIDER);
    provider
        .getSpec()
        .getDocker()
        .setHost("unix:///run/sandbox-operator/bench-memory-nothing-here.sock");
    client.resource(provider).create();

    long bigStatus = createBigExecutions();
    createFinishedExecutions();
    int objects = options.big() + options.finished();

    Path log = Files.createTempFile("bench-memory-operator-", ".log");
    List<String> command = new ArrayList<>(List.of("java", "-XX:MaxRAM=" + options.memoryLimit()));
    command.addAll(options.javaOptions());
    command.addAll(List.of("-jar", options.operatorJar().toString(), "operator"));
    progress("starting %s (log %s)", String.join(" ", command), log);
    ProcessBuilder builder =
        new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
    builder.environment().put("SANDBOX_WATCH_NAMESPACES", namespace);
    builder.environment().put("SANDBOX_HEALTH_PORT", "0");
    builder.environment().remove("JAVA_TOOL_OPTIONS");
    long startedAt = System.nanoTime();
    Process process = builder.start();
    operatorProcess = process;
    long pid = process.pid();
    AtomicLong peakKb = new AtomicLong();

    boolean survived =
        awaitTrue(
            "the operator started",
            Duration.ofMinutes(5),
            process,
            peakKb,
            () -> read(log).contains("sandbox-operator started"));
    double startSeconds = (System.nanoTime() - startedAt) / 1e9;
    survived = survived && awaitIdle(process, peakKb);
    double idleSeconds = (System.nanoTime() - startedAt) / 1e9;
    // Still working: a new execution with an empty program must be answered with InvalidSpec.
    boolean responsive = false;
    if (survived) {
      CodeExecution probe = TestResources.anExecution(namespace, "probe-after-load", PROVIDER);
      probe.getSpec().setCode(" ");
      client.resource(probe).create();
      responsive =
          awaitTrue(
              "the operator answered a new execution",
              Duration.ofSeconds(90),
              process,
              peakKb,
              () -> {
                CodeExecution cx =
                    client
                        .resources(CodeExecution.class)
                        .inNamespace(namespace)
                        .withName("probe-after-load")
                        .get();
                return cx != null
                    && cx.getStatus() != null
                    && CodeExecutionReason.INVALID_SPEC
                        .value()
                        .equals(
                            Conditions.reason(
                                cx.getStatus().getConditions(), ConditionTypes.SUCCEEDED));
              });
    }
    survived = survived && responsive && process.isAlive();

    double rssMb = 0;
    double heapMib = 0;
    double committedMib = 0;
    if (survived) {
      ProcessProbe.jcmd(pid, "GC.run");
      Thread.sleep(2000);
      rssMb = ProcessProbe.vmKb(pid, "VmRSS") / 1024.0;
      sample(pid, peakKb);
      String heap = ProcessProbe.jcmd(pid, "GC.heap_info");
      var match =
          heap == null
              ? null
              : java.util.regex.Pattern.compile("total (\\d+)K, used (\\d+)K").matcher(heap);
      while (match != null && match.find()) { // Serial: young then old generation; G1: one line
        committedMib += Long.parseLong(match.group(1)) / 1024.0;
        heapMib += Long.parseLong(match.group(2)) / 1024.0;
      }
    }
    String logText = read(log);
    boolean outOfMemory = logText.contains("OutOfMemoryError");
    System.out.printf(
        Locale.ROOT,
        "  operator: started after %.1f s, idle after %.1f s; %s%n",
        startSeconds,
        idleSeconds,
        survived
            ? "alive and answering"
            : "DID NOT SURVIVE (exit "
                + (process.isAlive() ? "none, unresponsive" : process.exitValue())
                + (outOfMemory ? ", OutOfMemoryError in its log" : "")
                + "; log "
                + log
                + ")");
    System.out.printf(
        Locale.ROOT,
        "  operator: after a GC heap %.0f MiB used of %.0f MiB committed; RSS %.0f MB;"
            + " peak RSS seen %.0f MB%n",
        heapMib,
        committedMib,
        rssMb,
        peakKb.get() / 1024.0);
    if (survived) {
      // What the live heap is made of: the first rows of the class histogram (itself after a full
      // GC).
      String histogram = ProcessProbe.jcmd(pid, "GC.class_histogram");
      if (histogram != null) {
        histogram
            .lines()
            .filter(line -> line.matches("\\s*\\d+:\\s+\\d+\\s+\\d+\\s+.*"))
            .limit(8)
            .forEach(line -> System.out.println("  operator: live heap by class:" + line));
      }
    }
    String dumpPath = System.getenv("BENCH_MEMORY_HEAP_DUMP"); // for a closer look at what is live
    if (survived && dumpPath != null && !dumpPath.isBlank()) {
      System.out.println(
          "  operator: heap dump: "
              + String.valueOf(ProcessProbe.jcmd(pid, "GC.heap_dump " + dumpPath)).strip());
    }
    String nativeMemory = survived ? ProcessProbe.nativeMemory(pid) : null;
    if (nativeMemory != null) {
      System.out.println("  operator: committed MiB by area (NMT): " + nativeMemory);
    }
    System.out.printf(
        Locale.ROOT,
        "  objects: %d with ~%d KiB arguments (depth %d, %d-byte leaves) and a %d KiB status,"
            + " %d ordinary finished%n",
        options.big(),
        options.argumentsBytes() / 1024,
        options.depth(),
        options.leafBytes(),
        bigStatus / 1024,
        options.finished());
    System.out.printf(
        Locale.ROOT,
        "  target: survived and RSS <= %.0f MB: %s%n",
        TARGET_RSS_MB,
        survived && rssMb <= TARGET_RSS_MB ? "met" : "MISSED");
    stopOperator();
    return String.format(
        Locale.ROOT,
        "bench-memory objects=%d heap_mib=%.0f rss_mb=%.0f survived=%s",
        objects,
        heapMib,
        rssMb,
        survived);
  }

  /**
   * Creates the large executions (4 at a time); returns the encoded size of the statuses the server
   * accepted.
   */
  private long createBigExecutions() throws Exception {
    Map<String, Object> arguments =
        deepArguments(options.argumentsBytes(), options.depth(), options.leafBytes());
    progress(
        "creating %d executions with %d KiB of arguments nested %d deep and ~%d KiB finished statuses",
        options.big(),
        JSON.writeValueAsBytes(arguments).length / 1024,
        options.depth(),
        options.statusBytes() / 1024);
    AtomicLong statusTarget = new AtomicLong(options.statusBytes());
    AtomicLong accepted = new AtomicLong();
    AtomicInteger written = new AtomicInteger();
    ExecutorService writers = Executors.newFixedThreadPool(4);
    List<Future<?>> futures = new ArrayList<>();
    for (int i = 0; i < options.big(); i++) {
      String name = String.format("big-%03d", i);
      futures.add(
          writers.submit(
              () -> {
                CodeExecution cx = TestResources.anExecution(namespace, name, PROVIDER);
                cx.getSpec().setArguments(arguments);
                cx = createOrGet(cx);
                while (true) {
                  long target = statusTarget.get();
                  cx.setStatus(bigStatus(cx, target, options.leafBytes()));
                  try {
                    client.resource(cx).updateStatus();
                    accepted.set(StatusBudget.encodedSize(cx.getStatus()));
                    break;
                  } catch (KubernetesClientException e) {
                    CodeExecution current = client.resource(cx).get();
                    if (current.getStatus() != null
                        && current.getStatus().getCompletionTime() != null) {
                      accepted.set(
                          StatusBudget.encodedSize(
                              current.getStatus())); // a retry of the client went through
                      break;
                    }
                    cx = current;
                    if (e.getCode() == 409) {
                      continue;
                    }
                    // etcd stores objects of at most 1.5 MiB: the status gets what is left beside
                    // the arguments.
                    if (target <= 64 * 1024
                        || (e.getCode() != 413 && e.getCode() != 422 && e.getCode() != 500)) {
                      throw e;
                    }
                    if (statusTarget.compareAndSet(target, target - 32 * 1024)) {
                      progress(
                          "a %d KiB status was refused (HTTP %d %s); trying %d KiB",
                          target / 1024,
                          e.getCode(),
                          e.getStatus() == null ? "" : e.getStatus().getMessage(),
                          (target - 32 * 1024) / 1024);
                    }
                  }
                }
                if (written.incrementAndGet() % 25 == 0) {
                  progress("big: %d/%d written", written.get(), options.big());
                }
                return null;
              }));
    }
    for (Future<?> f : futures) {
      f.get();
    }
    writers.shutdown();
    return accepted.get();
  }

  private void createFinishedExecutions() throws Exception {
    int n = options.finished();
    progress("creating %d finished executions (create + PUT /status, 16 threads)", n);
    ExecutorService writers = Executors.newFixedThreadPool(16);
    AtomicInteger written = new AtomicInteger();
    List<Future<?>> futures = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      String name = String.format("done-%05d", i);
      futures.add(
          writers.submit(
              () -> {
                CodeExecution cx =
                    createOrGet(TestResources.anExecution(namespace, name, PROVIDER));
                Instant now = Instant.now();
                cx.setStatus(
                    FinishedStatuses.succeededQuietly(
                        cx, "sbx-" + name, now.minusMillis(120), now));
                try {
                  client.resource(cx).updateStatus();
                } catch (KubernetesClientException e) {
                  if (e.getCode() != 409) {
                    throw e; // 409: the client sent it again after a first attempt that went
                    // through
                  }
                }
                if (written.incrementAndGet() % 1000 == 0) {
                  progress("finished: %d/%d written", written.get(), n);
                }
                return null;
              }));
    }
    for (Future<?> f : futures) {
      f.get();
    }
    writers.shutdown();
  }

  /** Creates, or gets the object a create the client sent again already made. */
  private CodeExecution createOrGet(CodeExecution cx) {
    try {
      return client.resource(cx).create();
    } catch (KubernetesClientException e) {
      if (e.getCode() != 409) {
        throw e;
      }
      return client.resource(cx).get();
    }
  }

  /** A finished status of about {@code bytes}: stdout, stderr and a nested result. */
  private static dev.sandboxes.api.v1alpha1.CodeExecutionStatus bigStatus(
      CodeExecution cx, long bytes, int leafBytes) {
    int stdout = (int) (bytes * 0.4);
    int stderr = (int) (bytes * 0.2);
    int result = (int) (bytes * 0.35);
    String out = "output line of a chatty program\n".repeat(stdout / 32);
    String err = "warning: something to say\n".repeat(stderr / 26);
    JsonNode value = JSON.valueToTree(deepArguments(result, 20, leafBytes));
    Instant now = Instant.now();
    ExecutionOutcome outcome =
        new ExecutionOutcome(
            Termination.EXITED,
            0,
            new StreamCapture(out, out.length(), false),
            new StreamCapture(err, err.length(), false),
            new RunnerReport("ok", null, null, value, null),
            "sbx-" + cx.getMetadata().getName(),
            now.minusSeconds(1),
            now,
            null);
    return CodeExecutionStatusCalculator.finished(
        cx, outcome, OutputLimitAction.TRUNCATE, Duration.ofSeconds(10), now);
  }

  /**
   * {"chains": [{"k":{"k":...["<leaf>"]}}, ...]}: objects {@code depth} levels deep with string
   * leaves of {@code leafBytes}, about {@code bytes} of JSON. Lists keep managedFields small, as a
   * tenant who wants the object to fit would. Smaller leaves mean more maps: harder on a client
   * that parses them, but just as hard on the API server, which decodes every object into Go maps
   * (with 1 KiB leaves, 200 such objects took a Kubernetes 1.20 API server to 18 GB).
   */
  static Map<String, Object> deepArguments(int bytes, int depth, int leafBytes) {
    Object chain = List.of("x".repeat(leafBytes));
    for (int level = 0; level < depth - 3; level++) { // the root object and the list are two levels
      chain = Map.of("k", chain);
    }
    int chainBytes;
    try {
      chainBytes = JSON.writeValueAsBytes(chain).length + 1;
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    List<Object> chains = new ArrayList<>();
    for (int size = 12; size + chainBytes <= bytes; size += chainBytes) {
      chains.add(chain);
    }
    return Map.of("chains", chains);
  }

  /** Waits until the process has used under 5% of a CPU for 3 s. */
  private boolean awaitIdle(Process process, AtomicLong peakKb) throws Exception {
    long deadline = System.nanoTime() + Duration.ofMinutes(5).toNanos();
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        return false;
      }
      long before = ProcessProbe.cpuTicks(process.pid());
      Thread.sleep(3000);
      if (!process.isAlive()) {
        return false;
      }
      sample(process.pid(), peakKb);
      if (ProcessProbe.cpuTicks(process.pid()) - before < 15) {
        return true;
      }
    }
    progress("the operator did not become idle in 5 minutes");
    return process.isAlive();
  }

  /** A condition check that may throw. */
  private interface Check {
    boolean met() throws Exception;
  }

  private boolean awaitTrue(
      String what, Duration timeout, Process process, AtomicLong peakKb, Check check)
      throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        progress("%s: the operator process exited (%d)", what, process.exitValue());
        return false;
      }
      sample(process.pid(), peakKb);
      try {
        if (check.met()) {
          return true;
        }
      } catch (RuntimeException e) {
        // the API server may be busy; look again
      }
      Thread.sleep(250);
    }
    progress("%s: not within %s", what, timeout);
    return false;
  }

  private static void sample(long pid, AtomicLong peakKb) {
    try {
      peakKb.accumulateAndGet(ProcessProbe.vmKb(pid, "VmHWM"), Math::max);
    } catch (IOException | RuntimeException e) {
      // exited meanwhile
    }
  }

  private static String read(Path file) throws IOException {
    return Files.readString(file, StandardCharsets.UTF_8);
  }

  private static void progress(String format, Object... args) {
    System.out.printf(
        Locale.ROOT,
        "[%s] " + format + "%n",
        java.util.stream.Stream.concat(
                java.util.stream.Stream.of(Instant.now().toString().substring(11, 19)),
                Arrays.stream(args))
            .toArray());
  }

  private void stopOperator() {
    ProcessProbe.stop(operatorProcess);
    operatorProcess = null;
  }

  /**
   * Idempotent: stops the operator process and deletes the namespace (also from the shutdown hook).
   */
  private synchronized void cleanUp() {
    stopOperator();
    try {
      if (client.namespaces().withName(namespace).get() != null) {
        client.namespaces().withName(namespace).delete();
        progress("deleted namespace %s", namespace);
      }
    } catch (RuntimeException e) {
      System.out.println("  deleting namespace " + namespace + " failed: " + e.getMessage());
    }
  }
}
