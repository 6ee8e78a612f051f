package dev.sandboxes.operator.backend;

import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.PoolStatus;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.api.v1alpha1.SandboxProviderReason;
import dev.sandboxes.operator.execution.ExecutionOutcome;
import dev.sandboxes.operator.execution.ExecutionRequest;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One SandboxProvider's connection to where code runs. The operator keeps one instance per provider
 * generation; every method may be called from several threads.
 *
 * <p>Contract: {@link #tryAcquire} never blocks; {@link #execute} blocks for the duration of one
 * run (it is called off the reconcile threads), enforces the request's timeout itself, never runs
 * the code twice, and always destroys the sandbox it used.
 */
public interface SandboxBackend extends AutoCloseable {

  ProviderType type();

  /**
   * A real, bounded-time check of the backend: reachable, credentials accepted, runtime present. It
   * starts nothing: a backend found ready is put in service with {@link #start}.
   */
  ProbeResult probe();

  /**
   * Puts the backend in service after a probe found it ready: pools begin to fill, leftovers of an
   * earlier operator are removed, periodic maintenance begins. Called after every ready probe; only
   * the first call does anything. Throws, with a message for the provider's status, when it cannot
   * start; the next ready probe tries again.
   */
  default void start() {}

  /**
   * {@link #start} after a ready probe: the probe as it was, or not ready (BackendUnreachable, with
   * the start's message) when the backend could not start. A probe that is not ready starts
   * nothing.
   */
  default ProbeResult startIfReady(ProbeResult probe) {
    if (!probe.ready()) {
      return probe;
    }
    try {
      start();
      return probe;
    } catch (RuntimeException e) {
      return ProbeResult.notReady(
          SandboxProviderReason.BACKEND_UNREACHABLE,
          e.getMessage() == null ? e.toString() : e.getMessage());
    }
  }

  /**
   * A sandbox ready for this language right now, or empty when none is: the caller then waits in
   * the queue and is told through the capacity listener of the {@link
   * dev.sandboxes.operator.provider.BackendContext} when to ask again. Backends that create
   * sandboxes per run (SaaS) return a lease at once.
   */
  Optional<SandboxLease> tryAcquire(Language language);

  /** Runs the request in the leased sandbox, then destroys the sandbox. Blocks. */
  ExecutionOutcome execute(SandboxLease lease, ExecutionRequest request, RunControl control);

  /**
   * After an operator restart, what the backend can still tell about an execution that was started
   * earlier in the sandbox recorded in its status. Empty means unknown: the execution is
   * Interrupted.
   */
  default Optional<ExecutionOutcome> recover(String executionUid, String sandboxId) {
    return Optional.empty();
  }

  /** Destroys whatever the backend may still hold for an execution that will not be finished. */
  default void discard(String executionUid, String sandboxId) {}

  /** Pool counts per runtime, for the provider status; empty for backends without pools. */
  default List<PoolStatus> pools() {
    return List.of();
  }

  /**
   * Sandboxes of each language being created (not yet ready to take an execution), for the metrics;
   * empty for backends without pools.
   */
  default Map<Language, Integer> startingSandboxes() {
    return Map.of();
  }

  /**
   * Why this backend's sandboxes keep failing to start, when they do: set after a few identical
   * start failures in a row ({@link StartFailures}), cleared by the next start that succeeds. The
   * provider is then not Ready and the `run` command gives up. The capacity listener of the {@link
   * dev.sandboxes.operator.provider.BackendContext} is called when it changes.
   */
  default Optional<StartFailure> startFailure() {
    return Optional.empty();
  }

  /** Destroys idle sandboxes and releases connections. */
  @Override
  void close();
}
