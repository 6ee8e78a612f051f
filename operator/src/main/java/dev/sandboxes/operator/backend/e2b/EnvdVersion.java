package dev.sandboxes.operator.backend.e2b;

/**
 * envd versions that change what a client must send (E2B-JS {@code src/envd/versions.ts}): stdin
 * for processes since 0.3.0, a default user (no Basic user needed) since 0.4.0.
 */
final class EnvdVersion {

  /** Processes can be started with stdin open (the envelope goes there). */
  static final String COMMANDS_STDIN = "0.3.0";

  /** envd picks the template's default user when the request names none. */
  static final String DEFAULT_USER = "0.4.0";

  private EnvdVersion() {}

  /** Whether version is at least minimum; an unknown or unreadable version counts as recent. */
  static boolean atLeast(String version, String minimum) {
    int[] have = parse(version);
    if (have == null) {
      return true;
    }
    int[] need = parse(minimum);
    for (int i = 0; i < 3; i++) {
      if (have[i] != need[i]) {
        return have[i] > need[i];
      }
    }
    return true;
  }

  private static int[] parse(String version) {
    if (version == null) {
      return null;
    }
    String[] parts = version.strip().replaceFirst("^v", "").split("[.+-]");
    if (parts.length < 3) {
      return null;
    }
    int[] numbers = new int[3];
    try {
      for (int i = 0; i < 3; i++) {
        numbers[i] = Integer.parseInt(parts[i]);
      }
    } catch (NumberFormatException e) {
      return null;
    }
    return numbers;
  }
}
