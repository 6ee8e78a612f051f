package dev.sandboxes.operator.backend.aliyun;

import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Signs data-plane calls with AGENTRUN4-HMAC-SHA256, the RAM signature of the official AgentRun SDK
 * (no Java SDK has it): an unsigned payload, host and x-acs-* headers signed, a key derived from
 * the secret by an HMAC chain over date, region, "agentrun" and "aliyun_v4_request", sent as
 * Agentrun-Authorization. docs/providers/aliyun.md spells the recipe out.
 */
final class AgentRunDataSigner {

  static final String ALGORITHM = "AGENTRUN4-HMAC-SHA256";
  static final String AUTHORIZATION_HEADER = "Agentrun-Authorization";
  static final String UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD";
  private static final String PRODUCT = "agentrun";
  private static final String SCOPE_SUFFIX = "aliyun_v4_request";
  private static final DateTimeFormatter TIMESTAMP =
      DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss'Z'").withZone(ZoneOffset.UTC);
  private static final DateTimeFormatter DAY =
      DateTimeFormatter.ofPattern("yyyyMMdd").withZone(ZoneOffset.UTC);

  private final AliyunCredentials credentials;
  private final String region;
  private final Clock clock;

  AgentRunDataSigner(AliyunCredentials credentials, String region, Clock clock) {
    this.credentials = credentials;
    this.region = region;
    this.clock = clock;
  }

  /**
   * The headers to add to one call.
   *
   * @param host the Host header exactly as the HTTP client will send it
   * @param path the path exactly as sent
   * @param query decoded query parameters
   */
  Map<String, String> sign(String method, String host, String path, Map<String, String> query) {
    Instant now = clock.instant();
    Map<String, String> signed = new TreeMap<>();
    signed.put("host", host);
    signed.put("x-acs-content-sha256", UNSIGNED_PAYLOAD);
    signed.put("x-acs-date", TIMESTAMP.format(now));
    StringBuilder canonical = new StringBuilder();
    canonical.append(method.toUpperCase()).append('\n');
    canonical.append(path == null || path.isEmpty() ? "/" : path).append('\n');
    canonical.append(Acs3Signer.queryString(query)).append('\n');
    signed.forEach(
        (name, value) -> canonical.append(name).append(':').append(value.strip()).append('\n'));
    canonical.append('\n');
    String signedNames = String.join(";", signed.keySet());
    canonical.append(signedNames).append('\n');
    canonical.append(UNSIGNED_PAYLOAD);
    String stringToSign =
        ALGORITHM
            + "\n"
            + Acs3Signer.sha256Hex(canonical.toString().getBytes(StandardCharsets.UTF_8));
    String day = DAY.format(now);
    byte[] key =
        hmac(("aliyun_v4" + credentials.accessKeySecret()).getBytes(StandardCharsets.UTF_8), day);
    key = hmac(key, region);
    key = hmac(key, PRODUCT);
    key = hmac(key, SCOPE_SUFFIX);
    String signature = HexFormat.of().formatHex(hmac(key, stringToSign));
    Map<String, String> headers = new LinkedHashMap<>(signed);
    headers.put(
        AUTHORIZATION_HEADER,
        ALGORITHM
            + " Credential="
            + credentials.accessKeyId()
            + "/"
            + day
            + "/"
            + region
            + "/"
            + PRODUCT
            + "/"
            + SCOPE_SUFFIX
            + ",SignedHeaders="
            + signedNames
            + ",Signature="
            + signature);
    return headers;
  }

  private static byte[] hmac(byte[] key, String data) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      return mac.doFinal(data.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException | InvalidKeyException e) {
      throw new IllegalStateException(e);
    }
  }
}
