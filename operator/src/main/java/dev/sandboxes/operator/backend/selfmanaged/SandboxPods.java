package dev.sandboxes.operator.backend.selfmanaged;

import dev.sandboxes.api.ApiConstants;
import dev.sandboxes.api.v1alpha1.Language;
import io.fabric8.kubernetes.api.model.ContainerStateTerminated;
import io.fabric8.kubernetes.api.model.ContainerStateWaiting;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/** Reads what matters about a sandbox pod from its labels and status. */
final class SandboxPods {

  /** Container waiting reasons that mean the image cannot be pulled. */
  static final Set<String> IMAGE_PULL_REASONS =
      Set.of(
          "ErrImagePull",
          "ImagePullBackOff",
          "InvalidImageName",
          "ErrImageNeverPull",
          "RegistryUnavailable");

  /** Container waiting reasons that mean the container cannot be created or started. */
  static final Set<String> START_FAILURE_REASONS =
      Set.of("CreateContainerConfigError", "CreateContainerError", "RunContainerError");

  /**
   * How a gVisor sandbox's death reaches the pod status on runtimes that wrap runsc for the runc
   * shim (hack/gvisor/runsc-k8s writes it as the container's termination message, exit 137): the
   * sandbox process dies as a whole, and containerd's own OOM report (reason OOMKilled) can be lost
   * when the container's cgroup goes first. Code inside cannot forge it: the wrapper clears the
   * message whenever the container itself ended, and code cannot kill the pod's init.
   */
  static final String SANDBOX_OOM_MESSAGE = "sandbox killed: out of memory";

  /** The same, when the pod's memory cgroup recorded no OOM kill. */
  static final String SANDBOX_DIED_MESSAGE = "sandbox killed: the gVisor sandbox died";

  private SandboxPods() {}

  /**
   * The container was killed at the pod's memory limit, by the kernel or with its whole sandbox.
   */
  static boolean oomKilled(ContainerStateTerminated terminated) {
    return "OOMKilled".equals(terminated.getReason())
        || (Integer.valueOf(137).equals(terminated.getExitCode())
            && terminated.getMessage() != null
            && terminated.getMessage().startsWith(SANDBOX_OOM_MESSAGE));
  }

  /** The container's gVisor sandbox died without an out-of-memory kill. */
  static boolean sandboxDied(ContainerStateTerminated terminated) {
    return Integer.valueOf(137).equals(terminated.getExitCode())
        && terminated.getMessage() != null
        && terminated.getMessage().startsWith(SANDBOX_DIED_MESSAGE);
  }

  static String name(Pod pod) {
    return pod.getMetadata().getName();
  }

  static String label(Pod pod, String key) {
    Map<String, String> labels = pod.getMetadata().getLabels();
    return labels == null ? null : labels.get(key);
  }

  static Optional<Language> language(Pod pod) {
    String value = label(pod, ApiConstants.LANGUAGE_LABEL);
    for (Language language : Language.values()) {
      if (language.value().equals(value)) {
        return Optional.of(language);
      }
    }
    return Optional.empty();
  }

  static boolean idle(Pod pod) {
    return SandboxPodTemplate.STATE_IDLE.equals(label(pod, ApiConstants.STATE_LABEL));
  }

  static boolean claimed(Pod pod) {
    return SandboxPodTemplate.STATE_CLAIMED.equals(label(pod, ApiConstants.STATE_LABEL));
  }

  static boolean deleting(Pod pod) {
    return pod.getMetadata().getDeletionTimestamp() != null;
  }

  /** Running with the Ready condition true: sleep is up and exec will find the container. */
  static boolean ready(Pod pod) {
    if (deleting(pod) || pod.getStatus() == null || !"Running".equals(pod.getStatus().getPhase())) {
      return false;
    }
    return condition(pod, "Ready").map(c -> "True".equals(c.getStatus())).orElse(false);
  }

  /**
   * Ended for good (restartPolicy Never): phase Failed or Succeeded, or the container terminated.
   */
  static boolean ended(Pod pod) {
    if (pod.getStatus() == null) {
      return false;
    }
    String phase = pod.getStatus().getPhase();
    return "Failed".equals(phase) || "Succeeded".equals(phase) || terminated(pod).isPresent();
  }

  static Optional<ContainerStateTerminated> terminated(Pod pod) {
    return containerStatus(pod)
        .map(s -> s.getState() == null ? null : s.getState().getTerminated());
  }

  static Optional<ContainerStateWaiting> waiting(Pod pod) {
    return containerStatus(pod).map(s -> s.getState() == null ? null : s.getState().getWaiting());
  }

  static Optional<PodCondition> condition(Pod pod, String type) {
    if (pod.getStatus() == null || pod.getStatus().getConditions() == null) {
      return Optional.empty();
    }
    return pod.getStatus().getConditions().stream()
        .filter(c -> type.equals(c.getType()))
        .findFirst();
  }

  private static Optional<ContainerStatus> containerStatus(Pod pod) {
    if (pod.getStatus() == null || pod.getStatus().getContainerStatuses() == null) {
      return Optional.empty();
    }
    return pod.getStatus().getContainerStatuses().stream()
        .filter(s -> SandboxPodTemplate.CONTAINER.equals(s.getName()))
        .findFirst();
  }

  /** "exit code 1 (Error)" style description of how a pod ended, for messages. */
  static String howEnded(Pod pod) {
    Optional<ContainerStateTerminated> terminated = terminated(pod);
    if (terminated.isPresent()) {
      ContainerStateTerminated t = terminated.get();
      return "its container exited with code "
          + t.getExitCode()
          + (t.getReason() == null ? "" : " (" + t.getReason() + ")")
          + (t.getMessage() == null || t.getMessage().isBlank()
              ? ""
              : ": " + t.getMessage().strip());
    }
    String reason = pod.getStatus() == null ? null : pod.getStatus().getReason();
    String message = pod.getStatus() == null ? null : pod.getStatus().getMessage();
    return "it is "
        + (pod.getStatus() == null ? "gone" : pod.getStatus().getPhase())
        + (reason == null
            ? ""
            : " (" + reason + (message == null ? "" : ": " + message.strip()) + ")");
  }
}
