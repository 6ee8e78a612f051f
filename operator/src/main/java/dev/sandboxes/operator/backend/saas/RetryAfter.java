package dev.sandboxes.operator.backend.saas;

import java.net.http.HttpHeaders;
import java.time.Duration;
import java.util.Optional;

/**
 * Reads the standard Retry-After header: how long a throttled or failing service asks callers to
 * wait.
 */
public final class RetryAfter {

  private RetryAfter() {}

  /**
   * The header's delay in seconds when it is a positive number, else null. The HTTP-date form is
   * not worth honouring precisely (clocks differ); callers fall back to their own backoff.
   */
  public static Duration of(HttpHeaders headers) {
    return seconds(headers.firstValue("retry-after"));
  }

  static Duration seconds(Optional<String> value) {
    if (value.isEmpty()) {
      return null;
    }
    try {
      long seconds = Long.parseLong(value.get().strip());
      return seconds > 0 ? Duration.ofSeconds(seconds) : null;
    } catch (NumberFormatException httpDate) {
      return null;
    }
  }
}
