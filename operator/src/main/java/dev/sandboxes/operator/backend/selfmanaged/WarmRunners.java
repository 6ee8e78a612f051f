package dev.sandboxes.operator.backend.selfmanaged;

import dev.sandboxes.api.v1alpha1.Language;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Pre-started runners, one per idle Ready pod: the runner is exec'd as soon as the pod can be
 * claimed, loads its interpreter, forks (Python) and waits on stdin. A claimed pod's execution
 * then takes the runner and writes one envelope line, instead of opening an exec and starting an
 * interpreter on the hot path. A runner that is gone (its stream ended) is simply not used: the
 * execution opens a fresh exec, which is safe because no byte of an envelope reached the old one.
 */
final class WarmRunners implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(WarmRunners.class);

  /** A runner waiting for its envelope, with the sinks its output goes to until an execution attaches. */
  record Warm(PodExec.Waiting waiting, DeferredSink stdout, DeferredSink stderr) {
    void close() {
      try {
        waiting.close();
      } catch (RuntimeException e) {
        // abandoned; the pod's deletion ends the process
      }
    }
  }

  /** Marks a pod whose runner is being opened. */
  private static final Object OPENING = new Object();
  /** Marks a pod whose runner was taken or that must get none (claimed, deleting). */
  private static final Object RETIRED = new Object();

  private final PodExec exec;
  private final String namespace;
  private final Function<Language, List<String>> command;
  private final Executor executor;
  /** Per pod: OPENING, a Warm, or RETIRED. Entries leave when the pod is deleted. */
  private final Map<String, Object> byPod = new ConcurrentHashMap<>();
  private volatile boolean closed;

  /**
   * @param command the runner's argv per language (with the once-only marker and, under gVisor,
   *     the process limit)
   */
  WarmRunners(PodExec exec, String namespace, Function<Language, List<String>> command, Executor executor) {
    this.exec = exec;
    this.namespace = namespace;
    this.command = command;
    this.executor = executor;
  }

  /** Makes sure the pod has a live runner waiting (opened in the background); no-op once retired. */
  void ensure(String pod, Language language) {
    if (closed) {
      return;
    }
    Object current = byPod.get(pod);
    if (current instanceof Warm warm && !warm.waiting().alive()) {
      // Its stream ended before anyone used it: nothing was sent, so a new one may take its place.
      if (byPod.remove(pod, warm)) {
        warm.close();
      }
      current = null;
    }
    if (current != null || byPod.putIfAbsent(pod, OPENING) != null) {
      return;
    }
    try {
      executor.execute(() -> open(pod, language));
    } catch (RejectedExecutionException e) {
      byPod.remove(pod, OPENING);
    }
  }

  private void open(String pod, Language language) {
    DeferredSink stdout = new DeferredSink();
    DeferredSink stderr = new DeferredSink();
    Warm warm;
    try {
      warm = new Warm(exec.open(namespace, pod, SandboxPodTemplate.CONTAINER, command.apply(language), stdout, stderr),
          stdout, stderr);
    } catch (RuntimeException e) {
      LOG.debug("pre-starting the runner in sandbox pod {}/{} failed: {}", namespace, pod, e.toString());
      byPod.remove(pod, OPENING);
      return;
    }
    if (closed || !byPod.replace(pod, OPENING, warm)) {
      warm.close(); // claimed, deleted or closed meanwhile
    }
  }

  /**
   * The pod's waiting runner, now reserved for one execution, or empty (none, still opening, or
   * gone): the caller then execs a fresh runner. Either way the pod gets no other pre-started one.
   */
  Optional<Warm> take(String pod) {
    Object previous = byPod.put(pod, RETIRED);
    if (previous instanceof Warm warm) {
      if (warm.waiting().alive()) {
        return Optional.of(warm);
      }
      warm.close();
    }
    return Optional.empty();
  }

  /** The pod was deleted (or is being deleted): its runner, if any, is abandoned. */
  void forget(String pod) {
    Object previous = byPod.remove(pod);
    if (previous instanceof Warm warm) {
      warm.close();
    }
  }

  /** Pods with a runner waiting now. */
  int waiting() {
    return (int) byPod.values().stream().filter(v -> v instanceof Warm w && w.waiting().alive()).count();
  }

  @Override
  public void close() {
    closed = true;
    byPod.values().forEach(v -> {
      if (v instanceof Warm warm) {
        warm.close();
      }
    });
    byPod.clear();
  }
}
