package dev.sandboxes.operator.backend.docker;

import dev.sandboxes.operator.backend.pool.WarmPool;

/**
 * How many containers of one Docker provider may hold an execution at once, across all its
 * languages. A container counts from its claim until it is removed from the engine (a container
 * being destroyed still uses the engine's memory and pids). Beyond the cap, claims fail and the
 * execution waits in Pending (WaitingForSandbox); no container is started for it either.
 */
final class ContainerBudget implements WarmPool.Slots {

  private final int max;
  private int inUse;

  ContainerBudget(int max) {
    if (max < 1) {
      throw new IllegalArgumentException("the container cap must be at least 1, not " + max);
    }
    this.max = max;
  }

  /** Takes a slot, or returns false when all are in use. */
  @Override
  public synchronized boolean tryTake() {
    if (inUse >= max) {
      return false;
    }
    inUse++;
    return true;
  }

  /** Gives a slot back (the container went back to the idle set, or is gone). */
  @Override
  public synchronized void giveBack() {
    if (inUse > 0) {
      inUse--;
    }
  }

  synchronized int inUse() {
    return inUse;
  }

  int max() {
    return max;
  }
}
