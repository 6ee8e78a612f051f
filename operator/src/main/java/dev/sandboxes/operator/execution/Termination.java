package dev.sandboxes.operator.execution;

/** How an execution ended, as far as the backend can tell. */
public enum Termination {
  /** The program exited on its own; its exit code decides. */
  EXITED,
  /** Killed at the deadline. */
  TIMED_OUT,
  /** Killed at the memory limit, per the backend's evidence. */
  OUT_OF_MEMORY,
  /** The sandbox or the backend failed; the program's own outcome is unknown. */
  SANDBOX_FAILED,
  /** The operator lost track of the run (restart) and the backend could not report it. */
  INTERRUPTED,
  /** The run was abandoned because its CodeExecution was deleted. */
  CANCELLED
}
