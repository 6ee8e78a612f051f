package dev.sandboxes.operator.backend.aliyun;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;

/**
 * Sandbox ids derived from the execution uid, so that creating a sandbox is idempotent (a retried
 * CreateSandbox finds its own sandbox) and so that a restarted operator can name, and delete, the
 * sandbox of any execution. The prefix carries a digest of the provider's namespace and name: the
 * sweeper recognises this provider's sandboxes by it, even after the provider was recreated.
 */
final class SandboxIds {

  private final String prefix;

  SandboxIds(String namespace, String providerName) {
    this.prefix = "sbx-" + digest(namespace + "/" + providerName).substring(0, 10) + "-";
  }

  /** The id of the sandbox an execution runs in: sbx-&lt;provider digest&gt;-&lt;uid&gt;. */
  String forExecution(String executionUid) {
    return prefix + executionUid.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9-]", "-");
  }

  /** Whether a sandbox id was made by this provider. */
  boolean ours(String sandboxId) {
    return sandboxId != null && sandboxId.startsWith(prefix);
  }

  String prefix() {
    return prefix;
  }

  private static String digest(String value) {
    try {
      return HexFormat.of()
          .formatHex(
              MessageDigest.getInstance("SHA-256").digest(value.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
