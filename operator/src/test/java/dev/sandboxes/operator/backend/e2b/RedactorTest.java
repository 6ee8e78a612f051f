package dev.sandboxes.operator.backend.e2b;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Service messages are made safe for statuses: no credentials, one line, bounded. */
@Tag("unit")
class RedactorTest {

  @Test
  void removesKnownCredentialsFlattensAndBounds() {
    Redactor redactor = new Redactor("e2b_secretkey");
    redactor.remember("token-123");

    assertThat(redactor.clean("bad key e2b_secretkey\nand token token-123 "))
        .isEqualTo("bad key [redacted] and token [redacted]");
    assertThat(redactor.clean("x".repeat(1000)))
        .hasSize(Redactor.MAX_MESSAGE_CHARS + 1)
        .endsWith("…");
    assertThat(redactor.clean(null)).isEmpty();
  }

  @Test
  void forgottenTokensAreNoLongerTracked() {
    Redactor redactor = new Redactor("e2b_secretkey");
    redactor.remember("token-123");
    redactor.forget("token-123");

    assertThat(redactor.clean("token-123")).isEqualTo("token-123");
    assertThat(redactor.clean("e2b_secretkey")).isEqualTo("[redacted]");
  }
}
