package dev.sandboxes.operator.runner;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;

/**
 * One file the code left in the output directory.
 *
 * @param name the path relative to the output directory, with {@code /} between directories
 */
public record Artifact(String name, byte[] content) {

  public long sizeBytes() {
    return content.length;
  }

  /** Lower-case hex SHA-256 of the content. */
  public String sha256() {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A media type guessed from the name's extension (the code does not declare one). */
  public String contentType() {
    String lower = name.toLowerCase(Locale.ROOT);
    int dot = lower.lastIndexOf('.');
    String extension = dot < 0 || lower.indexOf('/', dot) >= 0 ? "" : lower.substring(dot + 1);
    return switch (extension) {
      case "png" -> "image/png";
      case "jpg", "jpeg" -> "image/jpeg";
      case "gif" -> "image/gif";
      case "svg" -> "image/svg+xml";
      case "webp" -> "image/webp";
      case "pdf" -> "application/pdf";
      case "json" -> "application/json";
      case "csv" -> "text/csv";
      case "txt", "log", "md" -> "text/plain";
      case "html", "htm" -> "text/html";
      case "xml" -> "application/xml";
      case "zip" -> "application/zip";
      default -> "application/octet-stream";
    };
  }
}
