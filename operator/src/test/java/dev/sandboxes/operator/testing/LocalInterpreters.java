package dev.sandboxes.operator.testing;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The PATH of processes that the fakes and the local runner start where a sandbox would run them. A
 * sandbox image has its interpreters as programs in /usr/bin; a developer's PATH may put version
 * manager shims first (pyenv's python3 is a bash script that forks a dozen processes: 5 s per start
 * on a loaded 2-core machine, against 0.4 s for the program), which made trivial test programs hit
 * their time limits. A directory whose python3 or node is a script is left out when a later one has
 * the program itself; without such a program the PATH stays as it is.
 */
public final class LocalInterpreters {

  private static final List<String> INTERPRETERS = List.of("python3", "node");
  private static final String PATH = computePath();

  private static final Path OUTPUTS_ROOT = outputsRoot();

  private LocalInterpreters() {}

  private static Path outputsRoot() {
    try {
      Path root = Files.createTempDirectory("sandbox-outputs-");
      Runtime.getRuntime()
          .addShutdownHook(
              new Thread(
                  () -> {
                    try (var walk = Files.walk(root)) {
                      walk.sorted(java.util.Comparator.reverseOrder())
                          .forEach(path -> path.toFile().delete());
                    } catch (java.io.IOException | RuntimeException ignored) {
                      // best effort: a temporary directory
                    }
                  }));
      return root;
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /**
   * Gives the process to be started the PATH described above, and resolves its program on it (Java
   * looks a bare program name up on its own PATH, not the child's).
   */
  public static ProcessBuilder applyTo(ProcessBuilder builder) {
    // Every process gets an output directory of its own: the runners' default, /tmp/outputs, is
    // emptied at each start and would be shared by parallel runs (and other users) on this machine.
    builder
        .environment()
        .put(
            "SANDBOX_OUTPUT_DIR",
            OUTPUTS_ROOT
                .resolve(java.util.UUID.randomUUID().toString())
                .resolve("outputs")
                .toString());
    if (PATH == null) {
      return builder;
    }
    builder.environment().put("PATH", PATH);
    List<String> command = new ArrayList<>(builder.command()); // the caller's list stays as it was
    if (!command.isEmpty() && !command.get(0).contains("/")) {
      for (String dir : PATH.split(File.pathSeparator)) {
        Path program = Path.of(dir.isEmpty() ? "." : dir).resolve(command.get(0));
        if (Files.isRegularFile(program) && Files.isExecutable(program)) {
          command.set(0, program.toString());
          break;
        }
      }
    }
    return builder.command(command);
  }

  private static String computePath() {
    String path = System.getenv("PATH");
    if (path == null) {
      return null;
    }
    List<String> dirs = new ArrayList<>(Arrays.asList(path.split(File.pathSeparator)));
    for (String interpreter : INTERPRETERS) {
      int program = -1;
      for (int i = 0; i < dirs.size(); i++) {
        if (kind(Path.of(dirs.get(i)).resolve(interpreter)) == Kind.PROGRAM) {
          program = i;
          break;
        }
      }
      for (int i = program - 1; i >= 0; i--) {
        if (kind(Path.of(dirs.get(i)).resolve(interpreter)) == Kind.SCRIPT) {
          dirs.remove(i);
        }
      }
    }
    return String.join(File.pathSeparator, dirs);
  }

  private enum Kind {
    ABSENT,
    SCRIPT,
    PROGRAM
  }

  private static Kind kind(Path file) {
    if (!Files.isRegularFile(file) || !Files.isExecutable(file)) {
      return Kind.ABSENT;
    }
    try (InputStream in = Files.newInputStream(file)) {
      byte[] start = in.readNBytes(2);
      return start.length == 2 && start[0] == '#' && start[1] == '!' ? Kind.SCRIPT : Kind.PROGRAM;
    } catch (IOException e) {
      return Kind.ABSENT;
    }
  }
}
