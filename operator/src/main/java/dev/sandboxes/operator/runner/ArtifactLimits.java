package dev.sandboxes.operator.runner;

/**
 * Where the runner collects files from and how many it sends: at most {@code maxArtifacts} regular
 * files, {@code maxArtifactBytes} bytes in total, from {@code dir} (SANDBOX_OUTPUT_DIR).
 */
public record ArtifactLimits(String dir, int maxArtifacts, long maxArtifactBytes) {

  /** The output directory every runtime image gets: /tmp is writable in every sandbox. */
  public static final String DEFAULT_DIR = "/tmp/outputs";

  public static final int DEFAULT_MAX_ARTIFACTS = 10;

  public static final long DEFAULT_MAX_ARTIFACT_BYTES = 1024 * 1024;

  /** The provider defaults. */
  public static final ArtifactLimits DEFAULT =
      new ArtifactLimits(DEFAULT_DIR, DEFAULT_MAX_ARTIFACTS, DEFAULT_MAX_ARTIFACT_BYTES);

  public ArtifactLimits {
    if (dir == null || !dir.startsWith("/")) {
      throw new IllegalArgumentException("the output directory must be an absolute path");
    }
    if (maxArtifacts < 0 || maxArtifactBytes < 0) {
      throw new IllegalArgumentException("artifact limits must not be negative");
    }
  }
}
