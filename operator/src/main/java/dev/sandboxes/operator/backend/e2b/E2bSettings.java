package dev.sandboxes.operator.backend.e2b;

import dev.sandboxes.api.v1alpha1.E2bSpec;
import java.net.URI;

/**
 * Where an E2B-protocol service lives, with defaults applied: the REST API and the sandbox domain.
 * Holds no credentials, so it may be printed.
 *
 * @param apiUrl base URL of the REST control plane, without a trailing slash
 * @param domain sandbox domain; a sandbox's port P is reached at {@code P-<sandboxID>.<domain>}
 *     unless the service names another domain when it creates the sandbox
 * @param sandboxScheme {@code https}, or {@code http} when apiUrl is plain http (self-hosted)
 */
public record E2bSettings(String apiUrl, String domain, String sandboxScheme) {

  public static final String DEFAULT_DOMAIN = "e2b.app";

  public static E2bSettings of(E2bSpec spec) {
    String domain = spec == null || spec.getDomain() == null ? DEFAULT_DOMAIN : spec.getDomain();
    String apiUrl =
        spec == null || spec.getApiUrl() == null ? "https://api." + domain : spec.getApiUrl();
    while (apiUrl.endsWith("/")) {
      apiUrl = apiUrl.substring(0, apiUrl.length() - 1);
    }
    String scheme = URI.create(apiUrl).getScheme();
    return new E2bSettings(apiUrl, domain, "http".equalsIgnoreCase(scheme) ? "http" : "https");
  }

  /** The base URL of one port of a sandbox, by the E2B host convention. */
  public String sandboxUrl(String sandboxId, String responseDomain, int port) {
    String host = responseDomain == null || responseDomain.isBlank() ? domain : responseDomain;
    return sandboxScheme + "://" + port + "-" + sandboxId + "." + host;
  }
}
