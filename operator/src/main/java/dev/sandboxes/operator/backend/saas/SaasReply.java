package dev.sandboxes.operator.backend.saas;

import java.net.http.HttpHeaders;

/** One answer of a SaaS service: status, headers and the whole body, already bounded in size. */
public record SaasReply(int status, HttpHeaders headers, byte[] body) {

  /** Whether the status is 2xx. */
  public boolean ok() {
    return status >= 200 && status < 300;
  }
}
