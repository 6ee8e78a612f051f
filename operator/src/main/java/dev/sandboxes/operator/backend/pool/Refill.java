package dev.sandboxes.operator.backend.pool;

/**
 * How many sandboxes a warm pool starts now, and how many idle ones it holds beyond its target: the
 * one refill rule of every pool, whatever keeps its inventory.
 *
 * @param toStart creations to start now (0 or more)
 * @param surplus idle sandboxes above the target that no creation is waiting for (0 or more)
 */
public record Refill(int toStart, int surplus) {

  /**
   * The plan for one pool.
   *
   * @param target idle sandboxes the pool aims for
   * @param available idle sandboxes it has (ready or starting), none claimed
   * @param coming creations under way, not yet available
   * @param demand whether a claim found nothing since the last refill
   */
  public static Refill plan(long target, long available, long coming, boolean demand) {
    long wanted = target - available - coming;
    if (demand && available + coming == 0) {
      wanted = Math.max(wanted, 1); // a pool of size 0, or one drained faster than it refills
    }
    // Creations in flight at once: the target, at least 2, so that a large pool refills as fast
    // as it drains while a failing engine is not asked for more than a few at a time.
    wanted = Math.min(wanted, Math.max(2, target) - coming);
    long surplus = Math.min(-wanted, available - target);
    return new Refill((int) Math.max(0, wanted), (int) Math.max(0, surplus));
  }
}
