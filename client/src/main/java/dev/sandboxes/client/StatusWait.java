package dev.sandboxes.client;

import dev.sandboxes.api.v1alpha1.CodeExecution;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.fabric8.kubernetes.client.dsl.Resource;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Predicate;

/**
 * Waits on one watch until a CodeExecution satisfies a condition, and closes the watch before it
 * returns.
 *
 * <p>Why not fabric8's {@code waitUntilCondition}: it stops its informer on the thread that
 * delivered the matching event, after the caller has already been released, so a caller that closes
 * its client right away shuts down the executor that close needed and leaves a watch open on the
 * API server. Here the caller's own thread sends the close.
 */
final class StatusWait {

  private StatusWait() {}

  /**
   * The execution once {@code done} holds for it ({@code null} once it is deleted, which {@code
   * done} must accept).
   *
   * @throws TimeoutException the condition did not hold within {@code limit}
   */
  static CodeExecution until(
      Resource<CodeExecution> execution, Predicate<CodeExecution> done, Duration limit)
      throws TimeoutException {
    long deadline = System.nanoTime() + limit.toNanos();
    while (true) {
      CompletableFuture<CodeExecution> matched = new CompletableFuture<>();
      try (Watch ignored = execution.watch(watcher(done, matched))) {
        // Read after the watch is open: a change before it is in this read, one after it in an
        // event, so none is missed.
        CodeExecution current = execution.get();
        if (done.test(current)) {
          return current;
        }
        return matched.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      } catch (ExecutionException watchEnded) {
        // The server ended the watch for good (for example 410 Gone after a long wait): open a
        // new one, which starts with a fresh read.
        if (System.nanoTime() >= deadline) {
          throw new TimeoutException("the watch ended at the deadline");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new KubernetesClientException("interrupted while waiting for the execution", e);
      }
    }
  }

  private static Watcher<CodeExecution> watcher(
      Predicate<CodeExecution> done, CompletableFuture<CodeExecution> matched) {
    return new Watcher<>() {
      @Override
      public void eventReceived(Action action, CodeExecution cx) {
        CodeExecution seen = action == Action.DELETED ? null : cx;
        if (action != Action.BOOKMARK && action != Action.ERROR && done.test(seen)) {
          matched.complete(seen);
        }
      }

      @Override
      public void onClose(WatcherException cause) {
        matched.completeExceptionally(cause);
      }
    };
  }
}
