package dev.sandboxes.operator.backend.aliyun;

import com.aliyun.tea.TeaRequest;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;

/**
 * Signs control-plane calls with ACS3-HMAC-SHA256 (Aliyun OpenAPI V3). The headers are ours; the
 * Authorization value comes from Aliyun's own signer (com.aliyun.openapiutil, the code tea-openapi
 * and the generated AgentRun client use), so the canonical form is the vendor's, not a re-reading
 * of it. docs/providers/aliyun.md explains why the transport is not tea-openapi's.
 */
final class Acs3Signer {

  static final String ALGORITHM = "ACS3-HMAC-SHA256";
  static final String API_VERSION = "2025-09-10";
  private static final DateTimeFormatter DATE =
      DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss'Z'").withZone(ZoneOffset.UTC);
  private static final SecureRandom RANDOM = new SecureRandom();

  private final AliyunCredentials credentials;
  private final Clock clock;
  private final Supplier<String> nonces;

  Acs3Signer(AliyunCredentials credentials, Clock clock) {
    this(credentials, clock, Acs3Signer::randomNonce);
  }

  /** With fixed nonces, for known-answer tests. */
  Acs3Signer(AliyunCredentials credentials, Clock clock, Supplier<String> nonces) {
    this.credentials = credentials;
    this.clock = clock;
    this.nonces = nonces;
  }

  private static String randomNonce() {
    byte[] nonce = new byte[16];
    RANDOM.nextBytes(nonce);
    return HexFormat.of().formatHex(nonce);
  }

  /**
   * The headers of one call, Authorization included.
   *
   * @param host the Host header exactly as the HTTP client will send it
   * @param path the path exactly as sent (already percent-encoded)
   * @param query decoded query parameters
   */
  Map<String, String> sign(
      String action,
      String method,
      String host,
      String path,
      Map<String, String> query,
      byte[] body) {
    Map<String, String> headers = new LinkedHashMap<>();
    headers.put("host", host);
    headers.put("x-acs-action", action);
    headers.put("x-acs-version", API_VERSION);
    headers.put("x-acs-date", DATE.format(clock.instant()));
    headers.put("x-acs-signature-nonce", nonces.get());
    String payloadHash = sha256Hex(body == null ? new byte[0] : body);
    headers.put("x-acs-content-sha256", payloadHash);
    headers.put("accept", "application/json");
    if (body != null) {
      headers.put("content-type", "application/json; charset=utf-8");
    }
    TeaRequest request = new TeaRequest();
    request.method = method;
    request.pathname = path;
    request.query = new TreeMap<>(query);
    // Sorted, so that Aliyun's signer lists the signed headers in the documented (sorted) order
    // rather than in map order.
    request.headers = new TreeMap<>(headers);
    try {
      headers.put(
          "authorization",
          com.aliyun.openapiutil.Client.getAuthorization(
              request,
              ALGORITHM,
              payloadHash,
              credentials.accessKeyId(),
              credentials.accessKeySecret()));
    } catch (Exception e) {
      // The signer only hashes; a failure here is a bug or a broken JCE, never a credential
      // problem.
      throw new IllegalStateException(
          "signing an AgentRun call failed: " + e.getClass().getSimpleName(), e);
    }
    return headers;
  }

  /** Query string in the percent-encoding the canonical request uses (space as %20, ~ kept). */
  static String queryString(Map<String, String> query) {
    StringBuilder text = new StringBuilder();
    for (Map.Entry<String, String> entry : new TreeMap<>(query).entrySet()) {
      if (text.length() > 0) {
        text.append('&');
      }
      text.append(percentEncode(entry.getKey()))
          .append('=')
          .append(percentEncode(entry.getValue()));
    }
    return text.toString();
  }

  static String percentEncode(String value) {
    return URLEncoder.encode(value == null ? "" : value, StandardCharsets.UTF_8)
        .replace("+", "%20")
        .replace("*", "%2A")
        .replace("%7E", "~");
  }

  static String sha256Hex(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
