package dev.sandboxes.operator.backend.e2b;

import java.util.concurrent.Future;

/**
 * Lets a run abort the HTTP call it is blocked in (deadline, cancellation): calls register their
 * future while they wait.
 */
interface CallGuard {

  /** For calls nothing needs to abort (cleanup, probes). */
  CallGuard NONE = new CallGuard() {
    @Override
    public void watch(Future<?> call) {}

    @Override
    public void unwatch(Future<?> call) {}
  };

  /** The call is in flight; cancel it if the run stops (now or later). */
  void watch(Future<?> call);

  void unwatch(Future<?> call);
}
