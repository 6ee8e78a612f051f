package dev.sandboxes.operator.backend.selfmanaged;

import java.util.ArrayList;
import java.util.List;

/**
 * A per-execution process limit for sandbox pods. Kubernetes 1.20 has no per-pod pids limit: the
 * kubelet's podPidsLimit is one value for every pod of a node. What a pod can have is an
 * RLIMIT_NPROC on the exec'd runner, set by a shell before it starts the runner: lowered soft and
 * hard, so the code (non-root, no capabilities) cannot raise it again.
 *
 * <p>Only where the sandbox has its own kernel: RLIMIT_NPROC counts all tasks of the uid in that
 * kernel. Under gVisor (handler runsc) that is one sandbox, so the limit is per execution. Under
 * runc it would count every uid-1000 process of the node, other users' sandboxes included, and
 * break them: there only podPidsLimit applies (docs/providers/selfmanaged.md).
 */
final class SandboxProcessLimit {

  /** Exit code when the limit cannot be set: the runner protocol's "could not start" code. */
  static final int CANNOT_SET_EXIT_CODE = 70;

  private SandboxProcessLimit() {}

  /**
   * Whether a RuntimeClass handler runs each pod in its own kernel that counts tasks per sandbox.
   */
  static boolean appliesTo(String handler) {
    return handler != null && (handler.contains("runsc") || handler.contains("gvisor"));
  }

  /**
   * The command run under the limit: sh sets it (dash and busybox call it -p, bash -u) and then
   * execs the command unchanged, so arguments pass through as they are. Fails closed: without the
   * limit the code does not run.
   */
  static List<String> wrap(List<String> command, int limit) {
    String script =
        "ulimit -p "
            + limit
            + " 2>/dev/null || ulimit -u "
            + limit
            + " 2>/dev/null"
            + " || { echo 'sandbox: cannot limit the number of processes to "
            + limit
            + "' >&2; exit "
            + CANNOT_SET_EXIT_CODE
            + "; }; exec \"$@\"";
    List<String> wrapped = new ArrayList<>(List.of("sh", "-c", script, "sandbox"));
    wrapped.addAll(command);
    return wrapped;
  }
}
