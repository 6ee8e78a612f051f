package dev.sandboxes.api.v1alpha1;

/**
 * A reason of a condition or an event: one CamelCase word, as the API shows it. Each kind has one
 * enum of them ({@link CodeExecutionReason}, {@link SandboxProviderReason}), which is the only list:
 * a constant says whether it appears on conditions, on events, or both.
 */
public interface Reason {

  /** The reason as written to a condition or an event, e.g. "TimedOut". */
  String value();

  /** Whether a condition of the kind can carry this reason. */
  boolean onConditions();

  /** Whether an event about an object of the kind can carry this reason. */
  boolean onEvents();

  /** Whether {@code reason} (as read from a condition, possibly null) is this one. */
  default boolean is(String reason) {
    return value().equals(reason);
  }

  /** Where a reason appears. */
  enum Use {
    /** On a condition of the kind. */
    CONDITION,
    /** On an event about an object of the kind. */
    EVENT
  }
}
