package dev.sandboxes.operator.backend.e2b;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sandboxes.api.v1alpha1.E2bSpec;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Addressing of E2B-protocol services: E2B's defaults and self-hosted overrides. */
@Tag("unit")
class E2bSettingsTest {

  @Test
  void defaultsToE2bsOwnService() {
    E2bSettings settings = E2bSettings.of(new E2bSpec());

    assertThat(settings.apiUrl()).isEqualTo("https://api.e2b.app");
    assertThat(settings.sandboxUrl("isb1", null, 49983)).isEqualTo("https://49983-isb1.e2b.app");
  }

  @Test
  void aDomainMovesBothTheApiAndTheSandboxesAndTheCreateResponseCanNameAnother() {
    E2bSpec spec = new E2bSpec();
    spec.setDomain("sandbox.example.com");
    E2bSettings settings = E2bSettings.of(spec);

    assertThat(settings.apiUrl()).isEqualTo("https://api.sandbox.example.com");
    assertThat(settings.sandboxUrl("abc", null, 49983))
        .isEqualTo("https://49983-abc.sandbox.example.com");
    assertThat(settings.sandboxUrl("abc", "eu.example.com", 49983))
        .isEqualTo("https://49983-abc.eu.example.com");
  }

  @Test
  void aPlainHttpApiMeansPlainHttpSandboxes() {
    E2bSpec spec = new E2bSpec();
    spec.setApiUrl("http://e2b-api.sandboxes.svc:8080/");
    spec.setDomain("sandboxes.svc:8080");
    E2bSettings settings = E2bSettings.of(spec);

    assertThat(settings.apiUrl()).isEqualTo("http://e2b-api.sandboxes.svc:8080");
    assertThat(settings.sandboxUrl("abc", null, 49983))
        .isEqualTo("http://49983-abc.sandboxes.svc:8080");
  }
}
