package dev.sandboxes.api.util;

import dev.sandboxes.api.v1alpha1.Reason;
import io.fabric8.kubernetes.api.model.Condition;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/** Get, set and test fabric8 conditions; lastTransitionTime changes only when the status flips. */
public final class Conditions {

  public static final String TRUE = "True";
  public static final String FALSE = "False";
  public static final String UNKNOWN = "Unknown";

  private Conditions() {}

  /** The condition of that type, if present. */
  public static Optional<Condition> get(List<Condition> conditions, String type) {
    if (conditions == null) {
      return Optional.empty();
    }
    return conditions.stream().filter(c -> type.equals(c.getType())).findFirst();
  }

  /** Whether the condition of that type has status True. */
  public static boolean isTrue(List<Condition> conditions, String type) {
    return get(conditions, type).map(c -> TRUE.equals(c.getStatus())).orElse(false);
  }

  /** Whether the condition of that type has status False. */
  public static boolean isFalse(List<Condition> conditions, String type) {
    return get(conditions, type).map(c -> FALSE.equals(c.getStatus())).orElse(false);
  }

  /** The reason of the condition of that type, or null. */
  public static String reason(List<Condition> conditions, String type) {
    return get(conditions, type).map(Condition::getReason).orElse(null);
  }

  /** Sets (adds or replaces) a condition with a typed reason; see the other {@code set}. */
  public static void set(
      List<Condition> conditions,
      String type,
      String status,
      Reason reason,
      String message,
      Long observedGeneration,
      Instant now) {
    set(conditions, type, status, reason.value(), message, observedGeneration, now);
  }

  /**
   * Sets (adds or replaces) a condition. Keeps the previous lastTransitionTime when the status does
   * not change, so that the time says when the status flipped.
   */
  public static void set(
      List<Condition> conditions,
      String type,
      String status,
      String reason,
      String message,
      Long observedGeneration,
      Instant now) {
    Optional<Condition> existing = get(conditions, type);
    String transition =
        existing
            .filter(c -> Objects.equals(c.getStatus(), status) && c.getLastTransitionTime() != null)
            .map(Condition::getLastTransitionTime)
            .orElse(now.truncatedTo(ChronoUnit.SECONDS).toString());
    Condition condition = new Condition();
    condition.setType(type);
    condition.setStatus(status);
    condition.setReason(reason);
    condition.setMessage(message);
    condition.setObservedGeneration(observedGeneration);
    condition.setLastTransitionTime(transition);
    existing.ifPresent(conditions::remove);
    conditions.add(condition);
  }
}
