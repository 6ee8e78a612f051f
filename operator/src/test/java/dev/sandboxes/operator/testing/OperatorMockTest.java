package dev.sandboxes.operator.testing;

import static org.awaitility.Awaitility.await;

import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.Phase;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.operator.SandboxOperator;
import dev.sandboxes.operator.backend.SandboxBackendFactory;
import dev.sandboxes.operator.config.OperatorConfig;
import io.fabric8.kubernetes.api.model.events.v1.Event;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;

/**
 * Base of the mock tests that run a whole {@link SandboxOperator} on fabric8's CRUD mock server, in
 * the namespace {@value #NAMESPACE}: the server, the client, the operator's start and stop, and the
 * reads and waits they all use. Tests that drive a reconciler, a backend or the server directly set
 * up their own.
 */
@EnableKubernetesMockClient(crud = true)
public abstract class OperatorMockTest {

  /** The namespace of every resource these tests create. */
  protected static final String NAMESPACE = "default";

  /** The mock server's client, set by fabric8's extension before each test. */
  protected KubernetesClient client;

  /**
   * The operator {@link #startOperator} started, or null; a test that simulates a crash may replace
   * it.
   */
  protected SandboxOperator operator;

  /**
   * Starts an operator with the default configuration and these backends; it is stopped after the
   * test.
   */
  protected SandboxOperator startOperator(SandboxBackendFactory backends) {
    return startOperator(backends, OperatorConfig.defaults());
  }

  /**
   * Starts an operator with this configuration and these backends; it is stopped after the test.
   */
  protected SandboxOperator startOperator(SandboxBackendFactory backends, OperatorConfig config) {
    operator = new SandboxOperator(client, backends, config, null).start();
    return operator;
  }

  /**
   * Stops the operator, if one runs. JUnit calls it after the subclass's own {@code @AfterEach}
   * methods; one whose clean-up needs the operator gone first (fakes checked for leftover
   * sandboxes) calls it itself.
   */
  @AfterEach
  protected void stopOperator() {
    stopOperator(Duration.ofSeconds(1));
  }

  /** Stops the operator, if one runs, giving its running executions this long to finish. */
  protected void stopOperator(Duration grace) {
    if (operator != null) {
      SandboxOperator running = operator;
      operator = null;
      running.stop(grace);
    }
  }

  /** The stored CodeExecution, or null. */
  protected CodeExecution get(String name) {
    return client.resources(CodeExecution.class).inNamespace(NAMESPACE).withName(name).get();
  }

  /** The stored SandboxProvider, or null. */
  protected SandboxProvider provider(String name) {
    return client.resources(SandboxProvider.class).inNamespace(NAMESPACE).withName(name).get();
  }

  /** Waits until the execution reaches this phase (failing at once if it ends in another). */
  protected CodeExecution awaitPhase(String name, Phase phase) {
    return ExecutionWaits.awaitPhase(() -> get(name), phase);
  }

  /** Waits until the execution's condition of this type has this reason. */
  protected CodeExecution awaitReason(String name, String type, String reason) {
    return ExecutionWaits.awaitReason(() -> get(name), type, reason);
  }

  /**
   * Waits until the provider's Ready condition has this status and reason; returns the read that
   * had them.
   */
  protected SandboxProvider awaitReady(String name, String status, String reason) {
    return await("provider " + name + " Ready=" + status + " (" + reason + ")")
        .atMost(Duration.ofSeconds(20))
        .until(
            () -> provider(name),
            p ->
                p != null
                    && p.getStatus() != null
                    && Conditions.get(p.getStatus().getConditions(), ConditionTypes.READY)
                        .filter(c -> status.equals(c.getStatus()) && reason.equals(c.getReason()))
                        .isPresent());
  }

  /** The events about the object of this name, in the order the server lists them. */
  protected List<Event> events(String name) {
    return client.events().v1().events().inNamespace(NAMESPACE).list().getItems().stream()
        .filter(e -> name.equals(e.getRegarding().getName()))
        .toList();
  }
}
