package dev.sandboxes.operator.backend.docker;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.core.DefaultDockerClientConfig;
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
    return DockerClientImpl.getInstance(config, http.build());
  }
}
