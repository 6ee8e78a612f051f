package dev.sandboxes.operator.codeexecution;

import dev.sandboxes.api.v1alpha1.CodeExecution;

/**
 * A status write was refused because the CodeExecution changed since the copy it was computed from
 * (409), or a read showed that the copy being acted on is out of date. The reconciler then decides
 * again on a fresh read, which it may carry.
 */
final class StaleCopyException extends RuntimeException {

  private final transient CodeExecution fresh;

  StaleCopyException(String message, CodeExecution fresh) {
    super(message, null, false, false);
    this.fresh = fresh;
  }

  /** The current object when the thrower already read it, else null. */
  CodeExecution fresh() {
    return fresh;
  }
}
