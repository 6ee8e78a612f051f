package dev.sandboxes.operator.cli;

import java.time.Duration;

/**
 * The capacity listener of the `run` command's backend: executions waiting for a sandbox sleep on
 * it and wake up when the backend says one may have become free.
 */
final class CapacitySignal implements Runnable {

  /** A sandbox may have become available: wakes every waiter. */
  @Override
  public synchronized void run() {
    notifyAll();
  }

  /** Waits until {@link #run} or at most {@code timeout}, whichever comes first. */
  synchronized void await(Duration timeout) throws InterruptedException {
    wait(timeout.toMillis());
  }
}
