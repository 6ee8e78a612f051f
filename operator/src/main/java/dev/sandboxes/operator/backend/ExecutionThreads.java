package dev.sandboxes.operator.backend;

import java.time.Duration;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Threads every backend's executions share: one deadline timer whose actions only decide, elastic
 * threads for engine calls that a caller may stop waiting for, and elastic threads that tear
 * sandboxes down. A deadline that shares threads with blocking calls fires late once those calls
 * are slow (a loaded engine, a slow API server), so nothing that blocks ever runs on the timer.
 * Never shut down: a run whose backend was closed (a spec change) still gets its deadline and its
 * teardown.
 */
public final class ExecutionThreads {

  private static final Logger LOG = LoggerFactory.getLogger(ExecutionThreads.class);

  private static final ScheduledThreadPoolExecutor DEADLINES = deadlineTimer();
  private static final ExecutorService ENGINE_CALLS =
      Executors.newCachedThreadPool(daemonThreads("engine-call"));
  private static final ExecutorService TEARDOWNS =
      Executors.newCachedThreadPool(daemonThreads("sandbox-teardown"));
  private static final AtomicInteger PENDING_TEARDOWNS = new AtomicInteger();

  private ExecutionThreads() {}

  /**
   * Runs the decision when the delay has passed, on the deadline timer. The decision must not
   * block: it flips state, completes futures, closes streams and hands the sandbox's destruction to
   * {@link #teardown}. Cancel the result when the run ends first.
   */
  public static ScheduledFuture<?> atDeadline(Duration delay, Runnable decision) {
    return DEADLINES.schedule(
        () -> {
          try {
            decision.run();
          } catch (RuntimeException e) {
            LOG.warn("a deadline action failed: {}", e.toString());
          }
        },
        Math.max(0, delay.toMillis()),
        TimeUnit.MILLISECONDS);
  }

  /**
   * Where a run makes its blocking engine calls, so that the thread reporting the outcome can stop
   * waiting for them at the deadline. A call abandoned that way ends on its own (the sandbox it
   * talks to is being destroyed) or at its client's timeout.
   */
  public static Executor engineCalls() {
    return ENGINE_CALLS;
  }

  /** Destroys a sandbox off the result path: no outcome waits for it. */
  public static void teardown(Runnable destroy) {
    PENDING_TEARDOWNS.incrementAndGet();
    TEARDOWNS.execute(
        () -> {
          try {
            destroy.run();
          } catch (RuntimeException e) {
            LOG.warn("tearing a sandbox down failed: {}", e.toString());
          } finally {
            PENDING_TEARDOWNS.decrementAndGet();
          }
        });
  }

  /**
   * Waits until every teardown handed over so far ended, at most this long (the process is about to
   * exit and its threads are daemons). Returns whether none is left.
   */
  public static boolean awaitTeardowns(Duration atMost) {
    long until = System.nanoTime() + atMost.toNanos();
    while (PENDING_TEARDOWNS.get() > 0 && System.nanoTime() < until) {
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    return PENDING_TEARDOWNS.get() == 0;
  }

  private static ScheduledThreadPoolExecutor deadlineTimer() {
    ScheduledThreadPoolExecutor timer =
        new ScheduledThreadPoolExecutor(1, daemonThreads("execution-deadlines"));
    // Most runs end before their deadline: their cancelled timers must not pile up for up to the
    // longest time limit.
    timer.setRemoveOnCancelPolicy(true);
    return timer;
  }

  private static ThreadFactory daemonThreads(String prefix) {
    AtomicInteger count = new AtomicInteger();
    return r -> {
      Thread thread = new Thread(r, prefix + "-" + count.incrementAndGet());
      thread.setDaemon(true);
      return thread;
    };
  }
}
