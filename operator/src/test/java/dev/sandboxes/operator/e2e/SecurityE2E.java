package dev.sandboxes.operator.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.sandboxes.api.ApiConstants;
import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.ArgumentsSource;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionReason;
import dev.sandboxes.api.v1alpha1.CodeSource;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.Phase;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.api.v1alpha1.SandboxProviderReason;
import dev.sandboxes.api.v1alpha1.SecretKeyReference;
import dev.sandboxes.operator.config.IsolationPolicy;
import dev.sandboxes.operator.testing.DockerEngines;
import dev.sandboxes.operator.testing.TestResources;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The promises of docs/security.md on the real API server and the local cluster's gVisor pods:
 * Secrets are read for executions only when they opt in; providers cannot ask for weaker isolation
 * than the operator's policy (the RuntimeClass handler read from the real object); a look-alike pod
 * with copied labels and owner reference never receives code.
 */
@Tag("e2e")
class SecurityE2E {

  private E2eCluster cluster;

  @AfterEach
  void close() {
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  void secretsAreReadForExecutionsOnlyWhenTheyOptIn() {
    DockerEngines.host("runc");
    cluster = E2eCluster.open("secrets");
    cluster.startOperator();
    cluster.createDockerProvider("docker-runc", "runc", true);
    // A registry credential, not meant for executions.
    cluster.create(
        TestResources.aSecret(
            cluster.namespace(),
            "registry",
            ".dockerconfigjson",
            "{\"auths\":{\"registry.example\":{\"auth\":\"c2VjcmV0\"}}}"));
    CodeExecution steal = TestResources.anExecution(cluster.namespace(), "steal", null);
    steal.getSpec().setCode("def main(**a):\n    return a\n");
    steal.getSpec().setArguments(null);
    steal.getSpec().setArgumentsFrom(argumentsFrom("registry", ".dockerconfigjson"));
    cluster.create(steal);

    // Opted in: private code and arguments, the code with a syntax error on a line with a marker.
    Secret code =
        TestResources.aSecret(
            cluster.namespace(),
            "private-code",
            "main.py",
            "def main(token):\n    return len(token)\n");
    Secret broken =
        TestResources.aSecret(
            cluster.namespace(), "broken-code", "main.py", "def main():\n    s3cr3tMarker = = 1\n");
    Secret arguments =
        TestResources.aSecret(
            cluster.namespace(), "private-args", "args.json", "{\"token\":\"t0ken\"}");
    for (Secret secret : List.of(code, broken, arguments)) {
      secret.getMetadata().setLabels(Map.of(ApiConstants.EXECUTION_INPUT_LABEL, "true"));
      cluster.create(secret);
    }
    CodeExecution allowed = TestResources.anExecution(cluster.namespace(), "allowed", null);
    allowed.getSpec().setCode(null);
    allowed.getSpec().setArguments(null);
    allowed.getSpec().setCodeFrom(codeFrom("private-code", "main.py"));
    allowed.getSpec().setArgumentsFrom(argumentsFrom("private-args", "args.json"));
    cluster.create(allowed);
    CodeExecution syntaxError =
        TestResources.anExecution(cluster.namespace(), "syntax-error", null);
    syntaxError.getSpec().setCode(null);
    syntaxError.getSpec().setArguments(null);
    syntaxError.getSpec().setCodeFrom(codeFrom("broken-code", "main.py"));
    cluster.create(syntaxError);

    CodeExecution refused = cluster.awaitTerminal("steal");
    assertThat(refused.getStatus().getPhase()).isEqualTo(Phase.FAILED);
    assertThat(Conditions.reason(refused.getStatus().getConditions(), ConditionTypes.SUCCEEDED))
        .isEqualTo(CodeExecutionReason.SECRET_NOT_ALLOWED.value());
    assertThat(Conditions.get(refused.getStatus().getConditions(), ConditionTypes.STARTED))
        .isEmpty();
    assertThat(refused.getStatus().getSandbox()).isNull();
    assertThat(refused.getStatus().getMessage())
        .contains("Secret registry")
        .contains("spec.argumentsFrom.secretKeyRef")
        .contains("sandboxes.dev/execution-input");
    assertThat(refused.getStatus().toString()).doesNotContain("c2VjcmV0");
    cluster.awaitEvent("CodeExecution", "steal", "SecretNotAllowed");

    CodeExecution ran = cluster.awaitTerminal("allowed");
    assertThat(ran.getStatus().getPhase())
        .as(ran.getStatus().getMessage())
        .isEqualTo(Phase.SUCCEEDED);
    assertThat(ran.getStatus().getResult().asInt()).isEqualTo(5);

    CodeExecution failed = cluster.awaitTerminal("syntax-error");
    assertThat(Conditions.reason(failed.getStatus().getConditions(), ConditionTypes.SUCCEEDED))
        .isEqualTo(CodeExecutionReason.USER_CODE_ERROR.value());
    assertThat(failed.getStatus().getStderr())
        .contains("main.py")
        .contains("SyntaxError")
        .doesNotContain("s3cr3tMarker");
    assertThat(failed.getStatus().getMessage()).doesNotContain("s3cr3tMarker");
  }

  @Test
  void aProviderCannotAskForARuntimeClassOrHandlerThePolicyDoesNotAllow() {
    cluster = E2eCluster.open("policy");
    // The policy lets the name runc through, but not its handler: the handler is read from the
    // real RuntimeClass object, so naming it is not enough.
    IsolationPolicy policy =
        cluster.operatorConfig().isolationPolicy().alsoAllowing(Set.of(), Set.of("runc"), Set.of());
    cluster.startOperator(cluster.operatorConfig().withIsolationPolicy(policy));
    assertThat(
            cluster
                .client()
                .resources(io.fabric8.kubernetes.api.model.node.v1.RuntimeClass.class)
                .withName("runc")
                .get()
                .getHandler())
        .isEqualTo("runc");
    cluster.create(SelfManagedE2E.providerIn(cluster, "runc-pods", "runc", 1));
    cluster.create(SelfManagedE2E.providerIn(cluster, "kata-pods", "kata", 1));

    Condition handler = awaitReadyFalse("runc-pods");
    assertThat(handler.getReason()).isEqualTo(SandboxProviderReason.POLICY_VIOLATION.value());
    assertThat(handler.getMessage())
        .contains("RuntimeClass runc")
        .contains("handler runc")
        .contains("allowed handlers: runsc");
    Condition name = awaitReadyFalse("kata-pods");
    assertThat(name.getReason()).isEqualTo(SandboxProviderReason.POLICY_VIOLATION.value());
    assertThat(name.getMessage()).contains("spec.selfManaged.runtimeClassName kata");
    cluster.awaitEvent("SandboxProvider", "kata-pods", "PolicyViolation");
    // Neither created a pod.
    assertThat(
            cluster
                .client()
                .pods()
                .inNamespace(cluster.namespace())
                .withLabel(ApiConstants.MANAGED_BY_LABEL, ApiConstants.MANAGED_BY_VALUE)
                .list()
                .getItems())
        .isEmpty();
  }

  @Test
  void aLookAlikePodWithCopiedLabelsAndOwnerNeverReceivesCode() {
    cluster = E2eCluster.open("lookalike");
    cluster.startOperator();
    SandboxProvider provider = SelfManagedE2E.providerIn(cluster, "pool", "gvisor", 1);
    provider.getSpec().setRuntimes(List.of(provider.getSpec().getRuntimes().get(0))); // python only
    cluster.create(TestResources.asDefault(provider));
    cluster.awaitReady("pool");
    Pod original =
        await().atMost(Duration.ofSeconds(90)).until(this::readyPoolPod, Optional::isPresent).get();

    // Someone allowed to create pods here copies a pool pod: labels, owner reference, template
    // hash, spec. It is Ready and idle, exactly like the real ones.
    Pod impostor =
        new PodBuilder()
            .withNewMetadata()
            .withName("impostor")
            .withNamespace(cluster.namespace())
            .withLabels(original.getMetadata().getLabels())
            .withOwnerReferences(original.getMetadata().getOwnerReferences())
            .endMetadata()
            .withSpec(original.getSpec())
            .build();
    impostor.getSpec().setNodeName(null);
    cluster.create(impostor);
    await("impostor Ready")
        .atMost(Duration.ofSeconds(90))
        .until(
            () ->
                ready(
                    cluster
                        .client()
                        .pods()
                        .inNamespace(cluster.namespace())
                        .withName("impostor")
                        .get()));

    // Executions one after another: each takes a pool pod, and the next one waits for the
    // replacement rather than take the Ready impostor. The hostname names the pod that ran it.
    Set<String> ranOn = new HashSet<>();
    for (int i = 0; i < 3; i++) {
      CodeExecution cx = TestResources.anExecution(cluster.namespace(), "who-" + i, null);
      cx.getSpec().setCode("import socket\ndef main(x):\n    return socket.gethostname()\n");
      cluster.create(cx);
      CodeExecution done = cluster.awaitTerminal("who-" + i, Duration.ofMinutes(2));
      assertThat(done.getStatus().getPhase())
          .as(done.getStatus().getMessage())
          .isEqualTo(Phase.SUCCEEDED);
      ranOn.add(done.getStatus().getResult().asText());
      assertThat(done.getStatus().getSandbox().getId()).isNotEqualTo("impostor");
    }
    assertThat(ranOn).hasSize(3).doesNotContain("impostor");
    Pod after = cluster.client().pods().inNamespace(cluster.namespace()).withName("impostor").get();
    assertThat(after).isNotNull();
    assertThat(after.getMetadata().getLabels()).containsEntry(ApiConstants.STATE_LABEL, "idle");
  }

  private Optional<Pod> readyPoolPod() {
    return cluster
        .client()
        .pods()
        .inNamespace(cluster.namespace())
        .withLabel(ApiConstants.PROVIDER_LABEL, "pool")
        .list()
        .getItems()
        .stream()
        .filter(SecurityE2E::ready)
        .findFirst();
  }

  private static boolean ready(Pod pod) {
    return pod != null
        && pod.getStatus() != null
        && pod.getStatus().getConditions() != null
        && pod.getStatus().getConditions().stream()
            .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
  }

  private Condition awaitReadyFalse(String name) {
    Condition[] found = new Condition[1];
    await("SandboxProvider " + name + " Ready=False")
        .atMost(Duration.ofSeconds(60))
        .until(
            () -> {
              SandboxProvider p = cluster.provider(name);
              Optional<Condition> ready =
                  p == null || p.getStatus() == null
                      ? Optional.empty()
                      : Conditions.get(p.getStatus().getConditions(), ConditionTypes.READY);
              found[0] = ready.orElse(null);
              return ready.isPresent() && "False".equals(ready.get().getStatus());
            });
    return found[0];
  }

  private static CodeSource codeFrom(String name, String key) {
    CodeSource source = new CodeSource();
    source.setSecretKeyRef(key(name, key));
    return source;
  }

  private static ArgumentsSource argumentsFrom(String name, String key) {
    ArgumentsSource source = new ArgumentsSource();
    source.setSecretKeyRef(key(name, key));
    return source;
  }

  private static SecretKeyReference key(String name, String key) {
    SecretKeyReference ref = new SecretKeyReference();
    ref.setName(name);
    ref.setKey(key);
    return ref;
  }
}
