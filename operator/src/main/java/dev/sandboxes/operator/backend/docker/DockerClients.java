package dev.sandboxes.operator.backend.docker;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.model.Statistics;
import com.github.dockerjava.core.DefaultDockerClientConfig;
import com.github.dockerjava.core.DockerClientConfig;
import com.github.dockerjava.core.DockerClientConfigDelegate;
import com.github.dockerjava.core.DockerClientImpl;
import com.github.dockerjava.httpclient5.ApacheDockerHttpClient;
import com.github.dockerjava.transport.SSLConfig;
import java.net.URI;
import java.time.Duration;

/** Builds docker-java clients for a host, with TLS from PEM strings for tcp:// endpoints. */
final class DockerClients {

  private DockerClients() {}

  /**
   * A client for the host. The API version is negotiated by the server (podman answers 1.41).
   *
   * @param tls PEM material, or null for plain unix sockets and tcp
   */
  static DockerClient create(String host, PemSslConfig tls) {
    DefaultDockerClientConfig config =
        DefaultDockerClientConfig.createDefaultConfigBuilder()
            .withDockerHost(host)
            .withDockerTlsVerify(tls != null)
            .build();
    ApacheDockerHttpClient.Builder http =
        new ApacheDockerHttpClient.Builder()
            .dockerHost(URI.create(host))
            .maxConnections(256)
            .connectionTimeout(Duration.ofSeconds(5))
            // Exec streams last as long as the code runs; deadlines are enforced by the backend.
            .responseTimeout(Duration.ofHours(25));
    if (tls != null) {
      http.sslConfig((SSLConfig) tls);
    }
    DockerClientConfig tolerant =
        new DockerClientConfigDelegate(config) {
          @Override
          public ObjectMapper getObjectMapper() {
            return objectMapper();
          }
        };
    return DockerClientImpl.getInstance(tolerant, http.build());
  }

  /**
   * docker-java's mapper settings (unknown properties ignored, empty beans allowed) with the
   * container stats' CPU figures left out. Podman reports them as unsigned 64-bit counters, which
   * wrap below zero on a fresh container (usage_in_usermode 18446744073707534611 was seen);
   * docker-java reads them as a long and then fails the whole stats call. The operator reads only
   * the pids and memory figures (MemoryCgroup); without them, a fork bomb's container waited a
   * minute and more for its removal. docker-java's own default mapper cannot take the mix-in: it
   * reads every model through an inner copy of itself (its raw-values module, which the operator
   * does not use).
   */
  static ObjectMapper objectMapper() {
    return new ObjectMapper()
        .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
        .disable(SerializationFeature.FAIL_ON_EMPTY_BEANS)
        .addMixIn(Statistics.class, StatisticsWithoutCpu.class);
  }

  @JsonIgnoreProperties(
      value = {"cpu_stats", "precpu_stats"},
      ignoreUnknown = true)
  private abstract static class StatisticsWithoutCpu {}
}
