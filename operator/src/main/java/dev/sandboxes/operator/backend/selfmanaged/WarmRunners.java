package dev.sandboxes.operator.backend.selfmanaged;

import dev.sandboxes.api.v1alpha1.Language;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Pre-started runners, one per idle Ready pod: the runner is exec'd as soon as the pod can be
 * claimed, loads its interpreter, forks (Python) and waits on stdin. A claimed pod's execution then
 * takes the runner and writes one envelope line, instead of opening an exec and starting an
 * interpreter on the hot path. A runner that is gone (its stream ended) is simply not used: the
 * execution opens a fresh exec, which is safe because no byte of an envelope reached the old one.
 */
final class WarmRunners implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(WarmRunners.class);

  /**
   * A runner waiting for its envelope, with the sinks its output goes to until an execution
   * attaches.
   */
  record Warm(PodExec.Waiting waiting, DeferredSink stdout, DeferredSink stderr) {
    void close() {
      try {
        waiting.close();
      } catch (RuntimeException e) {
        // abandoned; the pod's deletion ends the process
      }
    }
  }

  /**
   * A runner being opened. Whoever removes it from the map owns what it completes with (the runner,
   * or null when opening failed): a taker uses it, anyone else closes it.
   */
  private record Opening(CompletableFuture<Warm> result) {
    /** Closes the runner once it is open, for an owner that will not use it. */
    void abandon() {
      result.thenAccept(
          warm -> {
            if (warm != null) {
              warm.close();
            }
          });
    }
  }

  /** Marks a pod whose runner was taken or that must get none (claimed, deleting). */
  private static final Object RETIRED = new Object();

  private final PodExec exec;
  private final String namespace;
  private final Function<Language, List<String>> command;
  private final Executor executor;
  private final Duration openingWait;

  /** Per pod: an Opening, a Warm, or RETIRED. Entries leave when the pod is deleted. */
  private final Map<String, Object> byPod = new ConcurrentHashMap<>();

  private volatile boolean closed;

  /**
   * @param command the runner's argv per language (with the once-only marker and, under gVisor, the
   *     process limit)
   * @param openingWait how long {@link #take} waits for a runner still being opened
   */
  WarmRunners(
      PodExec exec,
      String namespace,
      Function<Language, List<String>> command,
      Executor executor,
      Duration openingWait) {
    this.exec = exec;
    this.namespace = namespace;
    this.command = command;
    this.executor = executor;
    this.openingWait = openingWait;
  }

  /**
   * Makes sure the pod has a live runner waiting (opened in the background); no-op once retired.
   */
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
    Opening opening = new Opening(new CompletableFuture<>());
    if (current != null || byPod.putIfAbsent(pod, opening) != null) {
      return;
    }
    try {
      executor.execute(() -> open(pod, language, opening));
    } catch (RejectedExecutionException e) {
      byPod.remove(pod, opening);
      opening.result().complete(null);
    }
  }

  private void open(String pod, Language language, Opening opening) {
    DeferredSink stdout = new DeferredSink();
    DeferredSink stderr = new DeferredSink();
    Warm warm;
    try {
      warm =
          new Warm(
              exec.open(
                  namespace,
                  pod,
                  SandboxPodTemplate.CONTAINER,
                  command.apply(language),
                  stdout,
                  stderr),
              stdout,
              stderr);
    } catch (RuntimeException e) {
      LOG.debug(
          "pre-starting the runner in sandbox pod {}/{} failed: {}", namespace, pod, e.toString());
      byPod.remove(pod, opening);
      opening.result().complete(null);
      return;
    }
    if (byPod.replace(pod, opening, warm)) {
      if (closed && byPod.remove(pod, warm)) {
        warm.close();
      }
    } else {
      opening.result().complete(warm); // taken, deleted or closed meanwhile: its new owner decides
    }
  }

  /**
   * The pod's waiting runner, now reserved for one execution, or empty (none, gone, or still not
   * open after the opening wait): the caller then execs a fresh runner. A runner still being opened
   * is waited for, because a fresh exec beside it would load a second interpreter on the pod's
   * small CPU share. Either way the pod gets no other pre-started one.
   */
  Optional<Warm> take(String pod) {
    Object previous = byPod.put(pod, RETIRED);
    Warm warm = null;
    if (previous instanceof Warm ready) {
      warm = ready;
    } else if (previous instanceof Opening opening) {
      warm = await(opening);
    }
    if (warm == null) {
      return Optional.empty();
    }
    if (warm.waiting().alive()) {
      return Optional.of(warm);
    }
    warm.close();
    return Optional.empty();
  }

  private Warm await(Opening opening) {
    try {
      return opening.result().get(openingWait.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      opening.abandon();
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      opening.abandon();
      return null;
    } catch (ExecutionException e) {
      return null; // never completed exceptionally; no runner
    }
  }

  /** The pod was deleted (or is being deleted): its runner, if any, is abandoned. */
  void forget(String pod) {
    Object previous = byPod.remove(pod);
    if (previous instanceof Warm warm) {
      warm.close();
    } else if (previous instanceof Opening opening) {
      opening.abandon();
    }
  }

  /** Whether this pod's runner is open and waiting now (not being opened, taken or gone). */
  boolean hasWaiting(String pod) {
    return byPod.get(pod) instanceof Warm warm && warm.waiting().alive();
  }

  /** Pods with a runner waiting now. */
  int waiting() {
    return (int) byPod.keySet().stream().filter(this::hasWaiting).count();
  }

  @Override
  public void close() {
    closed = true;
    for (String pod : List.copyOf(byPod.keySet())) {
      forget(pod);
    }
  }
}
