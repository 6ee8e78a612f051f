package dev.sandboxes.operator.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.async.ResultCallback;
import com.github.dockerjava.api.model.Frame;
import com.github.dockerjava.core.DefaultDockerClientConfig;
import com.github.dockerjava.core.DockerClientImpl;
import com.github.dockerjava.httpclient5.ApacheDockerHttpClient;
import dev.sandboxes.api.v1alpha1.DockerSpec;
import dev.sandboxes.api.v1alpha1.ExecutionMode;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.api.v1alpha1.SandboxProviderSpec;
import dev.sandboxes.operator.backend.ProbeResult;
import dev.sandboxes.operator.backend.RunControl;
import dev.sandboxes.operator.backend.SandboxLease;
import dev.sandboxes.operator.backend.docker.DockerSandboxBackend;
import dev.sandboxes.operator.config.OperatorConfig;
import dev.sandboxes.operator.execution.ExecutionOutcome;
import dev.sandboxes.operator.execution.ExecutionRequest;
import dev.sandboxes.operator.execution.Termination;
import dev.sandboxes.operator.provider.BackendContext;
import dev.sandboxes.operator.provider.ProviderSettings;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * hack/bench-docker: on one engine and runtime, in one run, the raw exec of `python3 -c pass`
 * through the Docker API (create, start attached, inspect: what `docker exec` does) against a full
 * execution through the Docker backend with a warm pool (claim, runner, envelope, records, capped
 * capture, exit code), then 1 GB of output through one execution with the heap growth it causes.
 * Prints figures; asserts nothing (targets are read by people, not by a timed test).
 */
public final class DockerBenchmark {

  private static final ObjectMapper JSON = new ObjectMapper();

  public static void main(String[] args) throws Exception {
    String host = null;
    String runtime = "runsc";
    int iterations = 100;
    int warmup = 20;
    long outputBytes = 1L << 30;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--host" -> host = args[++i];
        case "--runtime" -> runtime = args[++i];
        case "--iterations" -> iterations = Integer.parseInt(args[++i]);
        case "--warmup" -> warmup = Integer.parseInt(args[++i]);
        case "--output-mib" -> outputBytes = Long.parseLong(args[++i]) << 20;
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    if (host == null) {
      throw new IllegalArgumentException("--host is required");
    }
    System.out.printf(
        "bench-docker: host=%s runtime=%s iterations=%d warmup=%d%n",
        host, runtime, iterations, warmup);

    DockerSandboxBackend backend = backend(host, runtime);
    ProbeResult probe = backend.startIfReady(backend.probe());
    if (!probe.ready()) {
      throw new IllegalStateException("the engine is not ready: " + probe.message());
    }
    System.out.println("  " + probe.message());
    try (DockerClient client = client(host)) {
      // Raw: exec into an idle pool container, exactly what `docker exec c python3 -c pass` does.
      SandboxLease rawContainer = acquire(backend);
      List<Double> raw = new ArrayList<>();
      for (int i = 0; i < warmup + iterations; i++) {
        long start = System.nanoTime();
        rawExec(client, rawContainer.sandboxId());
        if (i >= warmup) {
          raw.add((System.nanoTime() - start) / 1e6);
        }
      }
      backend.discard("bench", rawContainer.sandboxId());
      report("raw exec python3 -c pass", raw);

      // Through the provider: claim a warm container, run the runner with the envelope, parse
      // records.
      List<Double> provider = new ArrayList<>();
      for (int i = 0; i < warmup + iterations; i++) {
        awaitWarm(backend);
        long start = System.nanoTime();
        SandboxLease lease = acquire(backend);
        ExecutionOutcome outcome =
            backend.execute(
                lease, request("def main():\n    pass\n", 30, 65536), RunControl.detached());
        long elapsed = System.nanoTime() - start;
        if (outcome.termination() != Termination.EXITED || outcome.exitCode() != 0) {
          throw new IllegalStateException("a benchmark execution failed: " + outcome);
        }
        if (i >= warmup) {
          provider.add(elapsed / 1e6);
        }
      }
      report("provider execution (warm pool)", provider);

      double heapGrowth = hugeOutput(backend, outputBytes);
      double rawP50 = percentile(raw, 50);
      double p50 = percentile(provider, 50);
      System.out.printf(
          Locale.ROOT,
          "bench-docker runtime=%s raw_p50_ms=%.1f raw_p99_ms=%.1f p50_ms=%.1f p99_ms=%.1f ratio_p50=%.2f heap_growth_mib=%.1f%n",
          runtime,
          rawP50,
          percentile(raw, 99),
          p50,
          percentile(provider, 99),
          p50 / rawP50,
          heapGrowth);
    } finally {
      backend.close();
    }
  }

  /**
   * Runs an execution that writes the given bytes; returns the largest post-GC heap growth seen.
   */
  private static double hugeOutput(DockerSandboxBackend backend, long bytes) throws Exception {
    MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
    System.gc();
    Thread.sleep(200);
    long baseline = memory.getHeapMemoryUsage().getUsed();
    AtomicLong peak = new AtomicLong(baseline);
    AtomicBoolean done = new AtomicBoolean();
    Thread sampler =
        new Thread(
            () -> {
              while (!done.get()) {
                System.gc(); // retained memory, not garbage waiting for collection
                peak.accumulateAndGet(memory.getHeapMemoryUsage().getUsed(), Math::max);
                try {
                  Thread.sleep(250);
                } catch (InterruptedException e) {
                  return;
                }
              }
            });
    sampler.start();
    long start = System.nanoTime();
    ExecutionOutcome outcome =
        backend.execute(
            acquire(backend),
            request(
                "import sys\ndef main():\n    chunk = 'x' * (1024 * 1024)\n    for _ in range("
                    + (bytes >> 20)
                    + "):\n"
                    + "        sys.stdout.write(chunk)\n    return 'done'\n",
                600,
                65536),
            RunControl.detached());
    double seconds = (System.nanoTime() - start) / 1e9;
    done.set(true);
    sampler.join();
    if (outcome.stdout().totalBytes() != bytes
        || outcome.exitCode() == null
        || outcome.exitCode() != 0) {
      throw new IllegalStateException(
          "the output run did not complete: "
              + outcome.termination()
              + " "
              + outcome.stdout().totalBytes()
              + " bytes, detail "
              + outcome.detail());
    }
    double growth = (peak.get() - baseline) / (1024.0 * 1024.0);
    System.out.printf(
        Locale.ROOT,
        "  %d MiB of output in %.1f s (%.0f MiB/s), kept %d bytes, heap growth %.1f MiB%n",
        bytes >> 20,
        seconds,
        (bytes >> 20) / seconds,
        outcome.stdout().text().length(),
        growth);
    return growth;
  }

  private static void rawExec(DockerClient client, String containerId) throws InterruptedException {
    String exec =
        client
            .execCreateCmd(containerId)
            .withAttachStdout(true)
            .withAttachStderr(true)
            .withCmd("python3", "-c", "pass")
            .exec()
            .getId();
    client
        .execStartCmd(exec)
        .exec(new ResultCallback.Adapter<Frame>())
        .awaitCompletion(30, TimeUnit.SECONDS);
    Long exit = client.inspectExecCmd(exec).exec().getExitCodeLong();
    if (exit == null || exit != 0) {
      throw new IllegalStateException("raw exec exited " + exit);
    }
  }

  private static SandboxLease acquire(DockerSandboxBackend backend) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (System.nanoTime() < deadline) {
      Optional<SandboxLease> lease = backend.tryAcquire(Language.PYTHON);
      if (lease.isPresent()) {
        return lease.get();
      }
      Thread.sleep(5);
    }
    throw new IllegalStateException("no sandbox within 120 s");
  }

  /**
   * Waits (untimed) until the pool is full again and the engine is quiet (no container starting or
   * being removed): the warm-pool condition, and the same quiet engine the raw execs ran on.
   */
  private static void awaitWarm(DockerSandboxBackend backend) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (System.nanoTime() < deadline && !backend.warmAndQuiet()) {
      Thread.sleep(10);
    }
  }

  private static ExecutionRequest request(String code, int timeoutSeconds, int maxOutputBytes)
      throws Exception {
    return new ExecutionRequest(
        "bench",
        "bench",
        UUID.randomUUID().toString(),
        Language.PYTHON,
        ExecutionMode.FUNCTION,
        "main",
        code,
        JSON.readTree("{}"),
        Duration.ofSeconds(timeoutSeconds),
        maxOutputBytes);
  }

  private static DockerSandboxBackend backend(String host, String runtime) {
    SandboxProvider provider = new SandboxProvider();
    provider.setMetadata(
        new ObjectMetaBuilder().withNamespace("bench").withName("bench-" + runtime).build());
    SandboxProviderSpec spec = new SandboxProviderSpec();
    spec.setType(ProviderType.DOCKER);
    DockerSpec docker = new DockerSpec();
    docker.setHost(host);
    docker.setRuntime(runtime);
    docker.setPoolSize(2);
    spec.setDocker(docker);
    dev.sandboxes.api.v1alpha1.RuntimeSpec python = new dev.sandboxes.api.v1alpha1.RuntimeSpec();
    python.setLanguage(Language.PYTHON);
    spec.setRuntimes(List.of(python));
    provider.setSpec(spec);
    OperatorConfig config = OperatorConfig.defaults();
    return new DockerSandboxBackend(
        new BackendContext(
            "bench-" + UUID.randomUUID(),
            ProviderSettings.of(provider, config),
            spec,
            Map.of(),
            config,
            null));
  }

  private static DockerClient client(String host) {
    return DockerClientImpl.getInstance(
        DefaultDockerClientConfig.createDefaultConfigBuilder().withDockerHost(host).build(),
        new ApacheDockerHttpClient.Builder().dockerHost(URI.create(host)).build());
  }

  static void report(String what, List<Double> millis) {
    System.out.printf(
        Locale.ROOT,
        "  %-34s n=%d min=%.1f p50=%.1f p90=%.1f p99=%.1f max=%.1f ms%n",
        what,
        millis.size(),
        Collections.min(millis),
        percentile(millis, 50),
        percentile(millis, 90),
        percentile(millis, 99),
        Collections.max(millis));
  }

  static double percentile(List<Double> values, double percentile) {
    List<Double> sorted = new ArrayList<>(values);
    Collections.sort(sorted);
    int index = (int) Math.ceil(percentile / 100.0 * sorted.size()) - 1;
    return sorted.get(Math.max(0, Math.min(index, sorted.size() - 1)));
  }
}
