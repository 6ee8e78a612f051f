package dev.sandboxes.api.v1alpha1;

/**
 * A reason of a condition or an event: one CamelCase word, as the API shows it. Each kind has one
 * enum of them ({@link CodeExecutionReason}, {@link SandboxProviderReason}), which is the only
 * list: a constant says whether it appears on conditions, on events, or both.
 */
public interface Reason {

  /** How the constant is written and where it appears. */
  Spelling spelling();

  /** The reason as written to a condition or an event, e.g. "TimedOut". */
  default String value() {
    return spelling().value();
  }

  /** Whether a condition of the kind can carry this reason. */
  default boolean onConditions() {
    return spelling().uses().contains(Use.CONDITION);
  }

  /** Whether an event about an object of the kind can carry this reason. */
  default boolean onEvents() {
    return spelling().uses().contains(Use.EVENT);
  }

  /** Whether {@code reason} (as read from a condition, possibly null) is this one. */
  default boolean is(String reason) {
    return value().equals(reason);
  }

  /** A reason's API spelling and where it appears: what each enum constant is built from. */
  record Spelling(String value, java.util.Set<Use> uses) {
    /** A spelling used in at least one place. */
    public static Spelling of(String value, Use first, Use... rest) {
      return new Spelling(
          value, java.util.Collections.unmodifiableSet(java.util.EnumSet.of(first, rest)));
    }
  }

  /** Where a reason appears. */
  enum Use {
    /** On a condition of the kind. */
    CONDITION,
    /** On an event about an object of the kind. */
    EVENT
  }
}
