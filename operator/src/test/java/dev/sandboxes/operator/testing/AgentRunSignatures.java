package dev.sandboxes.operator.testing;

import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The two AgentRun signature algorithms as their public sources document them
 * (docs/providers/aliyun.md cites them), written from those for the fake service: it must not share
 * code with the operator's signers, or a shared mistake would pass unnoticed.
 */
public final class AgentRunSignatures {

  private AgentRunSignatures() {}

  /**
   * ACS3-HMAC-SHA256 over a received request. The signed-header list is used verbatim for the list
   * line (Aliyun's Java signer may not sort it); the header lines are sorted by name.
   */
  public static String acs3(
      String method,
      String rawPath,
      String rawQuery,
      Map<String, List<String>> headers,
      String signedHeaders,
      String payloadHash,
      String secret) {
    StringBuilder canonical = new StringBuilder();
    canonical.append(method).append('\n');
    canonical.append(rawPath).append('\n');
    canonical.append(canonicalQuery(rawQuery)).append('\n');
    TreeMap<String, String> lines = new TreeMap<>();
    for (String name : signedHeaders.split(";")) {
      lines.put(name, headerValue(headers, name));
    }
    lines.forEach(
        (name, value) ->
            canonical
                .append(name)
                .append(':')
                .append(value == null ? "" : value.trim())
                .append('\n'));
    canonical.append('\n'); // the separator after the header block, which ends in a newline itself
    canonical.append(signedHeaders).append('\n');
    canonical.append(payloadHash);
    String stringToSign =
        "ACS3-HMAC-SHA256\n" + sha256Hex(canonical.toString().getBytes(StandardCharsets.UTF_8));
    return HexFormat.of().formatHex(hmac(secret.getBytes(StandardCharsets.UTF_8), stringToSign));
  }

  /** AGENTRUN4-HMAC-SHA256 (the data plane's RAM signature) over a received request. */
  public static String agentRun4(
      String method,
      String rawPath,
      String rawQuery,
      Map<String, List<String>> headers,
      String signedHeaders,
      String payload,
      String secret,
      String day,
      String region) {
    StringBuilder canonical = new StringBuilder();
    canonical.append(method.toUpperCase()).append('\n');
    canonical.append(rawPath.isEmpty() ? "/" : rawPath).append('\n');
    canonical.append(canonicalQuery(rawQuery)).append('\n');
    for (String name : signedHeaders.split(";")) {
      String value = headerValue(headers, name);
      canonical.append(name).append(':').append(value == null ? "" : value.trim()).append('\n');
    }
    canonical.append('\n');
    canonical.append(signedHeaders).append('\n');
    canonical.append(payload);
    String stringToSign =
        "AGENTRUN4-HMAC-SHA256\n"
            + sha256Hex(canonical.toString().getBytes(StandardCharsets.UTF_8));
    byte[] key = hmac(("aliyun_v4" + secret).getBytes(StandardCharsets.UTF_8), day);
    key = hmac(key, region);
    key = hmac(key, "agentrun");
    key = hmac(key, "aliyun_v4_request");
    return HexFormat.of().formatHex(hmac(key, stringToSign));
  }

  /**
   * Query keys sorted; key and value percent-encoded (RFC 3986, "~" kept); empty value as "key=".
   */
  static String canonicalQuery(String rawQuery) {
    if (rawQuery == null || rawQuery.isEmpty()) {
      return "";
    }
    TreeMap<String, String> pairs = new TreeMap<>();
    for (String pair : rawQuery.split("&")) {
      int eq = pair.indexOf('=');
      String key = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
      String value =
          eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
      pairs.put(key, value);
    }
    StringBuilder text = new StringBuilder();
    pairs.forEach(
        (key, value) -> {
          if (text.length() > 0) {
            text.append('&');
          }
          text.append(encode(key)).append('=').append(encode(value));
        });
    return text.toString();
  }

  private static String encode(String value) {
    return URLEncoder.encode(value, StandardCharsets.UTF_8)
        .replace("+", "%20")
        .replace("*", "%2A")
        .replace("%7E", "~");
  }

  static String headerValue(Map<String, List<String>> headers, String name) {
    for (Map.Entry<String, List<String>> entry : headers.entrySet()) {
      if (entry.getKey().equalsIgnoreCase(name) && !entry.getValue().isEmpty()) {
        return entry.getValue().get(0);
      }
    }
    return null;
  }

  public static String sha256Hex(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  static byte[] hmac(byte[] key, String data) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      return mac.doFinal(data.getBytes(StandardCharsets.UTF_8));
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
