package dev.sandboxes.operator.testing;

import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodConditionBuilder;
import io.fabric8.kubernetes.api.model.PodStatus;
import io.fabric8.kubernetes.api.model.PodStatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;

/**
 * Plays the kubelet on the CRUD mock server, which has none: writes pod statuses. Started, it marks
 * every new pod of a namespace Running and Ready, as a node would once the container is up.
 */
public final class FakeKubelet implements AutoCloseable {

  private final KubernetesClient client;
  private final String namespace;
  private SharedIndexInformer<Pod> informer;

  public FakeKubelet(KubernetesClient client, String namespace) {
    this.client = client;
    this.namespace = namespace;
  }

  /** Marks every pod that appears from now on Ready. */
  public FakeKubelet start() {
    informer =
        client
            .pods()
            .inNamespace(namespace)
            .inform(
                new ResourceEventHandler<>() {
                  @Override
                  public void onAdd(Pod pod) {
                    if (pod.getStatus() == null || pod.getStatus().getPhase() == null) {
                      markReady(pod.getMetadata().getName());
                    }
                  }

                  @Override
                  public void onUpdate(Pod old, Pod pod) {}

                  @Override
                  public void onDelete(Pod pod, boolean unknown) {}
                },
                0);
    return this;
  }

  /** Running, container running, Ready. */
  public void markReady(String pod) {
    setStatus(
        pod,
        new PodStatusBuilder()
            .withPhase("Running")
            .addToConditions(new PodConditionBuilder().withType("Ready").withStatus("True").build())
            .addToContainerStatuses(
                new ContainerStatusBuilder()
                    .withName("sandbox")
                    .withReady(true)
                    .withNewState()
                    .withNewRunning()
                    .withStartedAt("2025-01-01T00:00:00Z")
                    .endRunning()
                    .endState()
                    .build())
            .build());
  }

  /** Pending with the container waiting, e.g. reason ErrImagePull. */
  public void markWaiting(String pod, String reason, String message) {
    setStatus(
        pod,
        new PodStatusBuilder()
            .withPhase("Pending")
            .addToConditions(
                new PodConditionBuilder().withType("Ready").withStatus("False").build())
            .addToContainerStatuses(
                new ContainerStatusBuilder()
                    .withName("sandbox")
                    .withReady(false)
                    .withNewState()
                    .withNewWaiting()
                    .withReason(reason)
                    .withMessage(message)
                    .endWaiting()
                    .endState()
                    .build())
            .build());
  }

  /** The container terminated, e.g. reason OOMKilled with exit code 137; the pod Failed. */
  public void markTerminated(String pod, String reason, int exitCode) {
    setStatus(
        pod,
        new PodStatusBuilder()
            .withPhase("Failed")
            .addToConditions(
                new PodConditionBuilder().withType("Ready").withStatus("False").build())
            .addToContainerStatuses(
                new ContainerStatusBuilder()
                    .withName("sandbox")
                    .withReady(false)
                    .withNewState()
                    .withNewTerminated()
                    .withReason(reason)
                    .withExitCode(exitCode)
                    .endTerminated()
                    .endState()
                    .build())
            .build());
  }

  /** Writes a status, retrying on conflicts with other writers (the operator labels pods too). */
  public void setStatus(String pod, PodStatus status) {
    for (int attempt = 0; attempt < 10; attempt++) {
      Pod current = client.pods().inNamespace(namespace).withName(pod).get();
      if (current == null) {
        return;
      }
      try {
        client
            .pods()
            .inNamespace(namespace)
            .resource(new PodBuilder(current).withStatus(status).build())
            .updateStatus();
        return;
      } catch (KubernetesClientException e) {
        if (e.getCode() != 409) {
          throw e;
        }
      }
    }
  }

  @Override
  public void close() {
    if (informer != null) {
      informer.stop();
    }
  }
}
