package dev.sandboxes.operator.testing;

import java.nio.file.Files;
import java.nio.file.Path;

/** Where the repository is, from the surefire property or by walking up to the parent POM. */
public final class ProjectPaths {

  private ProjectPaths() {}

  public static Path root() {
    String property = System.getProperty("project.root");
    if (property != null && Files.exists(Path.of(property, "hack"))) {
      return Path.of(property).toAbsolutePath();
    }
    Path dir = Path.of("").toAbsolutePath();
    while (dir != null && !Files.exists(dir.resolve("operator/pom.xml"))) {
      dir = dir.getParent();
    }
    return dir == null ? Path.of("..").toAbsolutePath() : dir;
  }
}
