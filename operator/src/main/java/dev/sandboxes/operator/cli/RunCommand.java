package dev.sandboxes.operator.cli;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sandboxes.api.ApiConstants;
import dev.sandboxes.api.v1alpha1.CanarySpec;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionStatus;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.api.v1alpha1.SandboxProviderSpec;
import dev.sandboxes.api.v1alpha1.SandboxProviderStatus;
import dev.sandboxes.operator.backend.CanaryRun;
import dev.sandboxes.operator.backend.ExecutionThreads;
import dev.sandboxes.operator.backend.ProbeResult;
import dev.sandboxes.operator.backend.RunControl;
import dev.sandboxes.operator.backend.SandboxBackend;
import dev.sandboxes.operator.backend.SandboxBackendFactory;
import dev.sandboxes.operator.backend.StartFailure;
import dev.sandboxes.operator.backend.StartFailures;
import dev.sandboxes.operator.codeexecution.CodeExecutionStatusCalculator;
import dev.sandboxes.operator.config.OperatorConfig;
import dev.sandboxes.operator.provider.BackendContext;
import dev.sandboxes.operator.provider.ProviderSettings;
import dev.sandboxes.operator.provider.ServiceCallListener;
import dev.sandboxes.operator.sandboxprovider.Canary;
import dev.sandboxes.operator.sandboxprovider.SandboxProviderStatusCalculator;
import dev.sandboxes.operator.sandboxprovider.SandboxProviderValidator;
import dev.sandboxes.operator.sandboxprovider.SecretRequirements;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Secret;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * `run`: executes the CodeExecutions of manifest files through the provider a SandboxProvider
 * manifest describes, with no cluster, and prints them with their status.
 */
@Command(
    name = "run",
    mixinStandardHelpOptions = true,
    description = {
      "Runs CodeExecution manifests through the provider a SandboxProvider manifest describes, without a cluster,",
      "and prints each CodeExecution with its status (several: a kind: List).",
      "Exit status: 0 all succeeded; 1 one failed in user code or timed out; 2 invalid input or a sandbox failure."
    })
public final class RunCommand implements Callable<Integer> {

  /** Exit status for invalid input and infrastructure failures. */
  public static final int EXIT_INVALID_OR_INFRASTRUCTURE = 2;

  /** How long the command waits at the end for sandboxes still being destroyed. */
  private static final Duration TEARDOWN_WAIT = Duration.ofSeconds(30);

  @Option(
      names = "--provider",
      required = true,
      paramLabel = "PROVIDER.yaml",
      description =
          "A SandboxProvider manifest (a Docker provider's host may be any Docker-API socket, podman's too).")
  Path providerFile;

  @Option(
      names = {"-f", "--filename"},
      paramLabel = "EXECUTION.yaml",
      description =
          "Manifest file(s) with CodeExecutions, plus any ConfigMaps and Secrets they refer to. Repeatable.")
  List<Path> executionFiles = new ArrayList<>();

  @Option(
      names = "--canary",
      description = {
        "Instead of -f: run the provider's canary (a tiny execution through the real backend, as spec.canary does in",
        "the cluster) and print the SandboxProvider with its Ready and CanaryPassed conditions. Exit status 0 when it",
        "passed, 2 otherwise."
      })
  boolean canary;

  @Option(
      names = {"-o", "--output"},
      defaultValue = "yaml",
      paramLabel = "yaml|json",
      description = "Output format: yaml (default) or json.")
  String output;

  @Option(
      names = "--secret",
      paramLabel = "NAME=PATH.yaml",
      description = {
        "A Secret manifest to use for the Secret NAME the provider or an execution refers to. Repeatable.",
        "Without it, key K of Secret NAME is read from the variable SANDBOX_SECRET_<NAME>_<K>."
      })
  Map<String, Path> secretFiles = new LinkedHashMap<>();

  @Option(
      names = "--artifacts-dir",
      paramLabel = "DIR",
      description = {
        "Write the files each execution left in SANDBOX_OUTPUT_DIR (/tmp/outputs) to DIR/<execution-name>/.",
        "Without it, the printed status still lists them (name, size, sha256, content type)."
      })
  Path artifactsDir;

  @Option(
      names = {"-q", "--quiet"},
      description = "No progress lines on stderr.")
  boolean quiet;

  private final SandboxBackendFactory factory;
  private final OperatorConfig config;
  private final Map<String, String> environment;
  private final PrintStream out;
  private final PrintStream err;
  private final Clock clock;

  /** Wakes executions waiting for a sandbox in this run. */
  private final CapacitySignal capacity = new CapacitySignal();

  public RunCommand(
      SandboxBackendFactory factory,
      OperatorConfig config,
      Map<String, String> environment,
      PrintStream out,
      PrintStream err,
      Clock clock) {
    this.factory = factory;
    this.config = config;
    this.environment = environment;
    this.out = out;
    this.err = err;
    this.clock = clock;
  }

  @Override
  public Integer call() throws Exception {
    if (!"yaml".equals(output) && !"json".equals(output)) {
      return fail("-o must be yaml or json, not " + output);
    }
    if (canary && !executionFiles.isEmpty()) {
      return fail("--canary runs no CodeExecutions: leave out -f, or run them in a second call");
    }
    if (!canary && executionFiles.isEmpty()) {
      return fail(
          "give the CodeExecutions to run with -f EXECUTION.yaml, or --canary to test the provider");
    }
    SandboxProvider provider;
    LocalReferencedObjects objects = new LocalReferencedObjects(environment);
    List<CodeExecution> executions = new ArrayList<>();
    try {
      provider = readProvider();
      for (Map.Entry<String, Path> secret : secretFiles.entrySet()) {
        for (Manifests.Document document : Manifests.read(secret.getValue())) {
          if (!"Secret".equals(document.kind())) {
            return fail(
                document.origin()
                    + " is a "
                    + document.kind()
                    + ", but --secret needs a Secret manifest");
          }
          objects.add(secret.getKey(), Manifests.convert(document, Secret.class));
        }
      }
      String namespace = provider.getMetadata().getNamespace();
      for (Path file : executionFiles) {
        for (Manifests.Document document : Manifests.read(file)) {
          switch (String.valueOf(document.kind())) {
            case "CodeExecution" -> executions.add(execution(document, namespace));
            case "ConfigMap" -> objects.add(Manifests.convert(document, ConfigMap.class));
            case "Secret" -> objects.add(Manifests.convert(document, Secret.class));
            case "SandboxProvider" -> {} // lets one file hold everything; --provider decides
            default -> {
              return fail(
                  document.origin()
                      + " has kind "
                      + document.kind()
                      + "; expected CodeExecution, ConfigMap or Secret");
            }
          }
        }
      }
    } catch (IllegalArgumentException | java.io.IOException e) {
      return fail(e.getMessage());
    }
    if (executions.isEmpty() && !canary) {
      return fail("no CodeExecution found in " + executionFiles);
    }

    List<String> problems = SandboxProviderValidator.validate(provider.getSpec());
    if (!problems.isEmpty()) {
      return fail(
          "SandboxProvider "
              + provider.getMetadata().getName()
              + " is invalid: "
              + String.join("; ", problems));
    }
    if (!factory.supports(provider.getSpec().getType())) {
      return fail(
          "provider type "
              + provider.getSpec().getType().value()
              + " is not available in this build");
    }
    SecretRequirements.Resolution secrets =
        SecretRequirements.resolve(
            provider.getMetadata().getNamespace(), provider.getSpec(), objects);
    if (!secrets.ok()) {
      return fail(
          secrets.problem()
              + " (pass it with --secret NAME=PATH.yaml or SANDBOX_SECRET_* variables)");
    }
    ProviderSettings settings = ProviderSettings.of(provider, config);
    progress("Probing SandboxProvider %s (%s)...", settings.name(), settings.type().value());
    SandboxBackend created;
    try {
      created =
          factory.create(
              new BackendContext(
                  "run-" + UUID.randomUUID(),
                  settings,
                  provider.getSpec(),
                  secrets.secrets(),
                  config,
                  null,
                  capacity,
                  ServiceCallListener.NONE));
    } catch (IllegalStateException e) {
      return fail(
          e.getMessage()); // a backend that cannot work here, e.g. SelfManaged without a cluster
    }
    try (SandboxBackend backend = created) {
      ProbeResult probe = backend.startIfReady(backend.probe());
      if (canary) {
        return runCanary(provider, settings, backend, probe);
      }
      if (!probe.ready()) {
        return fail(
            "SandboxProvider "
                + settings.name()
                + " is not ready ("
                + probe.reason()
                + "): "
                + probe.message());
      }
      progress("  %s", probe.message());
      List<CodeExecutionStatus> statuses = runAll(settings, backend, objects, executions);
      int exit = 0;
      for (int i = 0; i < executions.size(); i++) {
        executions.get(i).setStatus(statuses.get(i));
        exit = Math.max(exit, LocalExecutor.exitClass(statuses.get(i)));
      }
      print(executions);
      Optional<StartFailure> failing = backend.startFailure();
      if (failing.isPresent()) {
        // Always on stderr, also with --quiet: it is why the command failed, and what to do.
        err.println(
            "error: SandboxProvider "
                + settings.name()
                + ": sandboxes fail to start ("
                + StartFailures.THRESHOLD
                + " times in a row, same error): "
                + failing.get().error());
        if (failing.get().hint() != null) {
          err.println("check: " + failing.get().hint());
        }
        err.flush();
        return EXIT_INVALID_OR_INFRASTRUCTURE;
      }
      return exit;
    } finally {
      // Sandboxes are destroyed off the result path; the process must not exit before they are.
      if (!ExecutionThreads.awaitTeardowns(TEARDOWN_WAIT)) {
        progress(
            "Some sandboxes were still being destroyed after %ss; the provider removes leftovers on its next start",
            TEARDOWN_WAIT.toSeconds());
      }
    }
  }

  /**
   * `--canary`: the provider with its probe and canary outcome as the operator would write them.
   */
  private int runCanary(
      SandboxProvider provider,
      ProviderSettings settings,
      SandboxBackend backend,
      ProbeResult probe)
      throws Exception {
    progress("  %s", probe.message());
    SandboxProviderSpec withCanary =
        Manifests.JSON.convertValue(provider.getSpec(), SandboxProviderSpec.class);
    if (withCanary.getCanary() == null) {
      withCanary.setCanary(new CanarySpec());
    }
    CanaryRun.Result result = null;
    if (probe.ready()) {
      Language language = Canary.language(withCanary);
      progress("Running the canary (%s)...", language.value());
      result = CanaryRun.run(backend, settings, language, RunControl.detached(), clock);
      progress("  %s", result.message());
    }
    Instant now = clock.instant();
    SandboxProviderStatus status =
        SandboxProviderStatusCalculator.probed(provider, probe, backend.pools(), now);
    Canary.applyTo(
        withCanary, status, result, probe.ready(), provider.getMetadata().getGeneration(), now);
    provider.setStatus(status);
    out.print(Manifests.write(provider, output));
    out.flush();
    return result != null && Boolean.TRUE.equals(result.passed())
        ? 0
        : EXIT_INVALID_OR_INFRASTRUCTURE;
  }

  private List<CodeExecutionStatus> runAll(
      ProviderSettings settings,
      SandboxBackend backend,
      LocalReferencedObjects objects,
      List<CodeExecution> executions)
      throws Exception {
    LocalExecutor executor =
        new LocalExecutor(
            settings,
            backend,
            capacity,
            objects,
            clock,
            line -> progress("%s", line),
            artifactsDir);
    Integer limit = settings.limits().maxConcurrentExecutions();
    int threads = Math.max(1, Math.min(executions.size(), limit == null ? 8 : limit));
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<CodeExecutionStatus>> futures = new ArrayList<>();
      for (CodeExecution cx : executions) {
        futures.add(
            pool.submit(
                () -> {
                  String name = cx.getMetadata().getNamespace() + "/" + cx.getMetadata().getName();
                  progress(
                      "Running %s (%s)...",
                      name, cx.getSpec() == null ? "?" : cx.getSpec().getLanguage());
                  CodeExecutionStatus status = executor.run(cx);
                  progress(
                      "  %s: %s (%s)%s",
                      name,
                      status.getPhase(),
                      dev.sandboxes.api.util.Conditions.reason(status.getConditions(), "Succeeded"),
                      status.getDuration() == null ? "" : " in " + status.getDuration());
                  return status;
                }));
      }
      List<CodeExecutionStatus> statuses = new ArrayList<>();
      for (Future<CodeExecutionStatus> future : futures) {
        statuses.add(future.get());
      }
      return statuses;
    } finally {
      pool.shutdownNow();
    }
  }

  private SandboxProvider readProvider() throws java.io.IOException {
    if (!Files.isReadable(providerFile)) {
      throw new IllegalArgumentException("cannot read --provider " + providerFile);
    }
    List<Manifests.Document> documents = Manifests.read(providerFile);
    List<Manifests.Document> providers =
        documents.stream()
            .filter(d -> ApiConstants.KIND_SANDBOX_PROVIDER.equals(d.kind()))
            .toList();
    if (providers.size() != 1) {
      throw new IllegalArgumentException(
          providerFile + " must hold exactly one SandboxProvider (found " + providers.size() + ")");
    }
    checkApiVersion(providers.get(0));
    SandboxProvider provider = Manifests.convert(providers.get(0), SandboxProvider.class);
    if (provider.getMetadata() == null || provider.getMetadata().getName() == null) {
      throw new IllegalArgumentException(providers.get(0).origin() + ": metadata.name is required");
    }
    if (provider.getMetadata().getNamespace() == null) {
      provider.getMetadata().setNamespace("default");
    }
    provider.getMetadata().setUid(UUID.randomUUID().toString());
    provider.getMetadata().setGeneration(1L);
    return provider;
  }

  private CodeExecution execution(Manifests.Document document, String namespace) {
    checkApiVersion(document);
    CodeExecution cx = Manifests.convert(document, CodeExecution.class);
    if (cx.getMetadata() == null
        || (cx.getMetadata().getName() == null && cx.getMetadata().getGenerateName() == null)) {
      throw new IllegalArgumentException(document.origin() + ": metadata.name is required");
    }
    if (cx.getMetadata().getName() == null) {
      cx.getMetadata()
          .setName(
              cx.getMetadata().getGenerateName() + UUID.randomUUID().toString().substring(0, 5));
    }
    if (cx.getMetadata().getNamespace() == null) {
      cx.getMetadata().setNamespace(namespace);
    }
    cx.getMetadata().setUid(UUID.randomUUID().toString());
    cx.getMetadata().setGeneration(1L);
    cx.getMetadata()
        .setCreationTimestamp(CodeExecutionStatusCalculator.timestamp(Instant.now(clock)));
    return cx;
  }

  private static void checkApiVersion(Manifests.Document document) {
    if (!ApiConstants.API_VERSION.equals(document.apiVersion())) {
      throw new IllegalArgumentException(
          document.origin()
              + " has apiVersion "
              + document.apiVersion()
              + "; expected "
              + ApiConstants.API_VERSION);
    }
  }

  private void print(List<CodeExecution> executions) throws Exception {
    Object value;
    if (executions.size() == 1) {
      value = executions.get(0);
    } else {
      ObjectNode list = JsonNodeFactory.instance.objectNode();
      list.put("apiVersion", "v1");
      list.put("kind", "List");
      list.set("items", Manifests.JSON.valueToTree(executions));
      value = list;
    }
    out.print(Manifests.write(value, output));
    out.flush();
  }

  private void progress(String format, Object... args) {
    if (!quiet) {
      err.println(String.format(format, args));
      err.flush();
    }
  }

  private int fail(String message) {
    err.println("error: " + message);
    return EXIT_INVALID_OR_INFRASTRUCTURE;
  }
}
