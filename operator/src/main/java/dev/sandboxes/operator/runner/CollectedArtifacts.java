package dev.sandboxes.operator.runner;

import java.util.List;

/**
 * The files the runner sent and what it left out.
 *
 * @param files the artifacts, in the runner's order (sorted by path)
 * @param omitted up to 20 of the entries left out, with the reason
 * @param omittedCount how many entries were left out in all
 * @param truncated whether a limit (count or bytes) left files out; symlinks and special files
 *     alone do not count
 * @param problem why the artifact records could not all be used (malformed), or null
 */
public record CollectedArtifacts(
    List<Artifact> files,
    List<Omitted> omitted,
    int omittedCount,
    boolean truncated,
    String problem) {

  /** No artifacts. */
  public static final CollectedArtifacts NONE =
      new CollectedArtifacts(List.of(), List.of(), 0, false, null);

  public CollectedArtifacts {
    files = List.copyOf(files);
    omitted = List.copyOf(omitted);
  }

  public boolean isEmpty() {
    return files.isEmpty() && omittedCount == 0 && problem == null;
  }

  public long totalBytes() {
    return files.stream().mapToLong(Artifact::sizeBytes).sum();
  }

  /**
   * An entry the runner did not send.
   *
   * @param reason TooMany, TooLarge, Symlink, NotRegularFile, TooDeep, BadName, Unreadable,
   *     ScanLimit
   * @param sizeBytes the file's size when known, else null
   */
  public record Omitted(String name, String reason, Long sizeBytes) {}

  /** One sentence for an event or a message: what was left out and why. */
  public String omissionSummary() {
    if (omittedCount == 0) {
      return "";
    }
    StringBuilder text = new StringBuilder();
    text.append(omittedCount)
        .append(omittedCount == 1 ? " entry" : " entries")
        .append(" under SANDBOX_OUTPUT_DIR left out: ");
    for (int i = 0; i < omitted.size() && i < 5; i++) {
      Omitted entry = omitted.get(i);
      if (i > 0) {
        text.append(", ");
      }
      text.append(entry.name()).append(" (").append(describe(entry.reason())).append(')');
    }
    if (omittedCount > Math.min(5, omitted.size())) {
      text.append(", ...");
    }
    return text.toString();
  }

  private static String describe(String reason) {
    return switch (reason) {
      case "TooMany" -> "over maxArtifacts";
      case "TooLarge" -> "over maxArtifactBytes";
      case "Symlink" -> "a symlink, never followed";
      case "NotRegularFile" -> "not a regular file";
      case "TooDeep" -> "nested too deep";
      case "BadName" -> "a name that is not UTF-8 or too long";
      case "ScanLimit" -> "more than 10000 entries";
      case "Unreadable" -> "unreadable";
      default -> reason;
    };
  }
}
