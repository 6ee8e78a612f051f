package dev.sandboxes.operator.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.operator.Backends;
import dev.sandboxes.operator.SandboxOperator;
import dev.sandboxes.operator.backend.SandboxBackendFactory;
import dev.sandboxes.operator.config.IsolationPolicy;
import dev.sandboxes.operator.config.OperatorConfig;
import dev.sandboxes.operator.testing.DockerEngines;
import dev.sandboxes.operator.testing.ProjectPaths;
import dev.sandboxes.operator.testing.TestResources;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.events.v1.Event;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.dsl.NonDeletingOperation;
import io.javaoperatorsdk.operator.api.config.ConfigurationServiceOverrider;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * The cluster KUBECONFIG names, prepared for one end-to-end test class: the CRDs installed from the
 * committed YAML, a fresh namespace, and (on request) an operator running in-process against the
 * real API server and watching only that namespace. Works with any cluster: the local one from
 * hack/local-cluster, kind, or a real one.
 */
public final class E2eCluster implements AutoCloseable {

  private static final Duration TERMINAL_WAIT = Duration.ofSeconds(90);
  private static volatile boolean crdsInstalled;

  private final KubernetesClient client;
  private final String namespace;
  private final List<SandboxOperator> operators = new ArrayList<>();

  private E2eCluster(KubernetesClient client, String namespace) {
    this.client = client;
    this.namespace = namespace;
  }

  /** Connects, installs the CRDs once per JVM, and creates a namespace named after the test. */
  public static E2eCluster open(String testName) {
    KubernetesClient client = connect();
    installCrds(client);
    String namespace =
        "e2e-"
            + testName.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "-")
            + "-"
            + UUID.randomUUID().toString().substring(0, 6);
    client
        .namespaces()
        .resource(
            new NamespaceBuilder()
                .withNewMetadata()
                .withName(namespace)
                .addToLabels("app.kubernetes.io/part-of", "sandbox-operator-e2e")
                .endMetadata()
                .build())
        .create();
    // A namespace is usable once its default ServiceAccount exists (pods need it to be admitted).
    await("default ServiceAccount in " + namespace)
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                client.serviceAccounts().inNamespace(namespace).withName("default").get() != null);
    return new E2eCluster(client, namespace);
  }

  /** A client for KUBECONFIG; the tier cannot run without one, so it fails saying so. */
  public static KubernetesClient connect() {
    String kubeconfig = System.getenv("KUBECONFIG");
    if (kubeconfig == null || kubeconfig.isBlank() || !Files.exists(Path.of(kubeconfig))) {
      throw new IllegalStateException(
          "the end-to-end tier needs a cluster: set KUBECONFIG (hack/local-cluster up; eval \"$(hack/local-cluster env)\")"
              + " or run hack/test, which starts the local cluster");
    }
    return new KubernetesClientBuilder().withConfig(Config.autoConfigure(null)).build();
  }

  /** Installs (or updates) every CRD in crds/ and waits until the API server serves them. */
  public static synchronized void installCrds(KubernetesClient client) {
    if (crdsInstalled) {
      return;
    }
    for (Path file : crdFiles()) {
      try (InputStream in = Files.newInputStream(file)) {
        CustomResourceDefinition crd =
            client.apiextensions().v1().customResourceDefinitions().load(in).item();
        // Create or update, not server-side apply: 1.20's apply rejects the CEL rules
        // (x-kubernetes-validations) that newer servers enforce, while create and update drop them.
        client.resource(crd).createOr(NonDeletingOperation::update);
        await("CRD " + crd.getMetadata().getName() + " Established")
            .atMost(Duration.ofSeconds(30))
            .until(() -> established(client, crd.getMetadata().getName()));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    crdsInstalled = true;
  }

  private static boolean established(KubernetesClient client, String name) {
    CustomResourceDefinition crd =
        client.apiextensions().v1().customResourceDefinitions().withName(name).get();
    return crd != null
        && crd.getStatus() != null
        && crd.getStatus().getConditions().stream()
            .anyMatch(c -> "Established".equals(c.getType()) && "True".equals(c.getStatus()));
  }

  static List<Path> crdFiles() {
    try (Stream<Path> files = Files.list(ProjectPaths.root().resolve("crds"))) {
      return files.filter(f -> f.toString().endsWith(".yaml")).sorted().toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public KubernetesClient client() {
    return client;
  }

  public String namespace() {
    return namespace;
  }

  /**
   * A RuntimeClass name the E2E operators' isolation policy allows but no cluster has: a provider
   * naming it passes the policy and then finds no RuntimeClass (RuntimeClassNotFound).
   */
  public static final String UNINSTALLED_RUNTIME_CLASS = "gvisor-not-installed";

  /**
   * Settings of an in-process operator that watches only this namespace. Its isolation policy is
   * the default (gVisor only) plus the Docker runtime runc, explicitly: several tests run Docker
   * providers on the podman runc socket; and the name {@link #UNINSTALLED_RUNTIME_CLASS}.
   * SelfManaged pods stay on gVisor (RuntimeClass gvisor, handler runsc).
   */
  public OperatorConfig operatorConfig() {
    OperatorConfig defaults = OperatorConfig.defaults();
    return new OperatorConfig(
        defaults.defaultRuntimeImage(),
        List.of(namespace),
        Duration.ofSeconds(5),
        defaults.reconcileThreads(),
        0,
        false,
        defaults.leaseName(),
        namespace,
        IsolationPolicy.defaults()
            .alsoAllowing(Set.of("runc"), Set.of(UNINSTALLED_RUNTIME_CLASS), Set.of()));
  }

  /** Starts an operator with every backend type, watching this namespace; stopped by close(). */
  public SandboxOperator startOperator() {
    return startOperator(operatorConfig());
  }

  public SandboxOperator startOperator(OperatorConfig config) {
    return startOperator(client, config, null);
  }

  /**
   * Starts an operator on its own client (e.g. one of two replicas) with JOSDK overrides applied
   * after the operator's own settings; stopped by close(), the client is the caller's.
   */
  public SandboxOperator startOperator(
      KubernetesClient operatorClient,
      OperatorConfig config,
      Consumer<ConfigurationServiceOverrider> overrides) {
    return startOperator(operatorClient, Backends.factory(), config, overrides);
  }

  /** As above, with backends of the test's choosing (e.g. counting fakes). */
  public SandboxOperator startOperator(
      KubernetesClient operatorClient,
      SandboxBackendFactory factory,
      OperatorConfig config,
      Consumer<ConfigurationServiceOverrider> overrides) {
    SandboxOperator operator = new SandboxOperator(operatorClient, factory, config, overrides);
    synchronized (operators) {
      operators.add(operator);
    }
    return operator.start();
  }

  /**
   * Creates a Docker provider on the podman engine of hack/sandbox-engine for an OCI runtime (runc
   * or runsc; the test is skipped without it), pool size 2, and waits until it is Ready.
   */
  public SandboxProvider createDockerProvider(String name, String runtime, boolean asDefault) {
    SandboxProvider provider = TestResources.aDockerProvider(namespace, name);
    provider.getSpec().getDocker().setHost(DockerEngines.host(runtime));
    provider.getSpec().getDocker().setRuntime(runtime);
    provider.getSpec().getDocker().setPoolSize(2);
    create(asDefault ? TestResources.asDefault(provider) : provider);
    return awaitReady(name);
  }

  /** Creates an object in this namespace. */
  public <T extends HasMetadata> T create(T object) {
    object.getMetadata().setNamespace(namespace);
    return client.resource(object).create();
  }

  public CodeExecution execution(String name) {
    return client.resources(CodeExecution.class).inNamespace(namespace).withName(name).get();
  }

  public SandboxProvider provider(String name) {
    return client.resources(SandboxProvider.class).inNamespace(namespace).withName(name).get();
  }

  /** Waits until the execution has a completion time, and returns it. */
  public CodeExecution awaitTerminal(String name) {
    return awaitTerminal(name, TERMINAL_WAIT);
  }

  public CodeExecution awaitTerminal(String name, Duration wait) {
    await("CodeExecution " + namespace + "/" + name + " terminal")
        .atMost(wait)
        .pollInterval(Duration.ofMillis(200))
        .until(
            () -> {
              CodeExecution cx = execution(name);
              return cx != null
                  && cx.getStatus() != null
                  && cx.getStatus().getCompletionTime() != null;
            });
    return execution(name);
  }

  /** Waits until the provider's Ready condition is True. */
  public SandboxProvider awaitReady(String name) {
    await("SandboxProvider " + namespace + "/" + name + " Ready")
        .atMost(Duration.ofSeconds(90))
        .pollInterval(Duration.ofMillis(250))
        .until(
            () -> {
              SandboxProvider provider = provider(name);
              return provider != null
                  && provider.getStatus() != null
                  && provider.getStatus().getConditions() != null
                  && provider.getStatus().getConditions().stream()
                      .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
            });
    return provider(name);
  }

  /** The events.k8s.io events about an object of this namespace. */
  public List<Event> eventsAbout(String kind, String name) {
    return client.events().v1().events().inNamespace(namespace).list().getItems().stream()
        .filter(
            e ->
                e.getRegarding() != null
                    && kind.equals(e.getRegarding().getKind())
                    && name.equals(e.getRegarding().getName()))
        .toList();
  }

  /** Waits for an event with this reason about the object. */
  public Event awaitEvent(String kind, String name, String reason) {
    await(reason + " event about " + kind + " " + name)
        .atMost(Duration.ofSeconds(30))
        .until(() -> eventsAbout(kind, name).stream().anyMatch(e -> reason.equals(e.getReason())));
    return eventsAbout(kind, name).stream()
        .filter(e -> reason.equals(e.getReason()))
        .findFirst()
        .orElseThrow();
  }

  /**
   * Runs kubectl with this cluster's KUBECONFIG; returns its combined output, failing on a non-zero
   * exit.
   */
  public static String kubectl(String... args) {
    Result result = kubectlResult(args);
    assertThat(result.exitCode())
        .as("kubectl %s\n%s", String.join(" ", args), result.output())
        .isZero();
    return result.output();
  }

  /** kubectl's exit code and combined output. */
  public record Result(int exitCode, String output) {}

  public static Result kubectlResult(String... args) {
    List<String> command = new ArrayList<>();
    command.add("kubectl");
    command.addAll(List.of(args));
    try {
      Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
      process.getOutputStream().close();
      byte[] output = process.getInputStream().readAllBytes();
      if (!process.waitFor(2, TimeUnit.MINUTES)) {
        process.destroyForcibly();
        throw new AssertionError(
            "kubectl " + String.join(" ", args) + " did not finish in 2 minutes");
      }
      return new Result(
          process.exitValue(), new String(output, java.nio.charset.StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new UncheckedIOException("kubectl could not run (is it on PATH?)", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /**
   * Deletes the CodeExecutions while an operator still runs (so finalizers are handled), stops the
   * operators, then deletes the namespace without waiting for it to go.
   */
  @Override
  public void close() {
    try {
      client.resources(CodeExecution.class).inNamespace(namespace).delete();
      await()
          .atMost(Duration.ofSeconds(30))
          .ignoreExceptions()
          .until(
              () ->
                  client
                      .resources(CodeExecution.class)
                      .inNamespace(namespace)
                      .list()
                      .getItems()
                      .isEmpty());
    } catch (RuntimeException e) {
      // Best effort: the namespace deletion below removes what is left once finalizers are gone.
    }
    synchronized (operators) {
      operators.forEach(o -> o.stop(Duration.ofSeconds(5)));
      operators.clear();
    }
    client.namespaces().withName(namespace).delete();
    client.close();
  }
}
