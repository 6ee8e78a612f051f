package dev.sandboxes.operator.cli;

import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionStatus;
import dev.sandboxes.operator.codeexecution.ArtifactConfigMaps;
import dev.sandboxes.operator.runner.Artifact;
import dev.sandboxes.operator.runner.CollectedArtifacts;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The {@code run} command's artifacts: listed in the printed status and, with {@code
 * --artifacts-dir DIR}, written to {@code DIR/<execution-name>/<name>}.
 */
final class LocalArtifacts {

  private LocalArtifacts() {}

  /**
   * Lists {@code artifacts} in {@code status} (in place) and writes them under {@code dir} if
   * given.
   */
  static void apply(
      CodeExecution cx, CodeExecutionStatus status, CollectedArtifacts artifacts, Path dir) {
    if (artifacts.isEmpty()) {
      return;
    }
    if (artifacts.problem() != null) {
      append(
          status,
          "The runner's artifact records could not be used ("
              + artifacts.problem()
              + "); no artifacts were kept.");
      return;
    }
    if (artifacts.truncated()) {
      status.setArtifactsTruncated(true);
    }
    if (!artifacts.files().isEmpty()) {
      status.setArtifacts(ArtifactConfigMaps.statuses(artifacts.files(), null));
      int count = artifacts.files().size();
      String what =
          count
              + (count == 1 ? " artifact" : " artifacts")
              + " ("
              + artifacts.totalBytes()
              + " bytes)";
      if (dir == null) {
        append(status, what + " collected; pass --artifacts-dir DIR to write them.");
      } else {
        Path target = dir.resolve(cx.getMetadata().getName());
        try {
          write(target, artifacts);
          append(status, what + " written to " + target + ".");
        } catch (IOException | UncheckedIOException | IllegalArgumentException e) {
          append(status, what + " could not be written to " + target + ": " + e.getMessage() + ".");
        }
      }
    }
    if (artifacts.omittedCount() > 0) {
      append(status, artifacts.omissionSummary() + ".");
    }
  }

  private static void write(Path target, CollectedArtifacts artifacts) throws IOException {
    Path root = target.toAbsolutePath().normalize();
    for (Artifact file : artifacts.files()) {
      Path path = root.resolve(file.name()).normalize();
      if (!path.startsWith(root)
          || path.equals(root)) { // the names are checked when they arrive; twice is cheap
        throw new IllegalArgumentException(
            "the artifact name " + file.name() + " leaves the directory");
      }
      Files.createDirectories(path.getParent());
      if (Files.isSymbolicLink(path)) {
        Files.delete(path); // never write through a link that happens to be there
      }
      Files.write(
          path,
          file.content(),
          StandardOpenOption.CREATE,
          StandardOpenOption.TRUNCATE_EXISTING,
          StandardOpenOption.WRITE,
          LinkOption.NOFOLLOW_LINKS);
    }
  }

  private static void append(CodeExecutionStatus status, String sentence) {
    status.setMessage(
        status.getMessage() == null ? sentence : status.getMessage() + " " + sentence);
  }
}
