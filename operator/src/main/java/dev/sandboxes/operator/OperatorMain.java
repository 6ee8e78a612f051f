package dev.sandboxes.operator;

import dev.sandboxes.operator.cli.RunCommand;
import dev.sandboxes.operator.config.OperatorConfig;
import java.time.Clock;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point: `operator` runs the controller, `run` executes manifests without a cluster. */
@Command(
    name = "sandbox-operator",
    mixinStandardHelpOptions = true,
    versionProvider = OperatorMain.Version.class,
    description =
        "Runs untrusted Python and JavaScript code in sandboxes, driven by Kubernetes custom resources.",
    subcommands = {OperatorCommand.class, RunCommand.class})
public final class OperatorMain implements Runnable {

  public static void main(String[] args) {
    boolean cli = args.length > 0 && "run".equals(args[0]);
    // `run` prints manifests on stdout: keep its logging quiet and on stderr (see logback.xml).
    System.setProperty(
        "sandbox.log.level", System.getProperty("sandbox.log.level", cli ? "WARN" : "INFO"));
    System.exit(execute(args));
  }

  /** Runs a command line and returns its exit status (tests call this). */
  public static int execute(String... args) {
    OperatorConfig config = OperatorConfig.fromEnvironment(System.getenv());
    CommandLine commandLine =
        new CommandLine(
            new OperatorMain(),
            new CommandLine.IFactory() {
              @Override
              public <K> K create(Class<K> type) throws Exception {
                if (type == RunCommand.class) {
                  return type.cast(
                      new RunCommand(
                          Backends.factory(),
                          config,
                          System.getenv(),
                          System.out,
                          System.err,
                          Clock.systemUTC()));
                }
                if (type == OperatorCommand.class) {
                  return type.cast(new OperatorCommand(config));
                }
                return CommandLine.defaultFactory().create(type);
              }
            });
    commandLine.setExitCodeExceptionMapper(e -> RunCommand.EXIT_INVALID_OR_INFRASTRUCTURE);
    commandLine.setExecutionExceptionHandler(
        (e, cmd, parseResult) -> {
          cmd.getErr().println("error: " + e.getMessage());
          return RunCommand.EXIT_INVALID_OR_INFRASTRUCTURE;
        });
    return commandLine.execute(args);
  }

  @Override
  public void run() {
    new CommandLine(this).usage(System.out);
  }

  /** Version from the jar manifest. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String version = OperatorMain.class.getPackage().getImplementationVersion();
      return new String[] {"sandbox-operator " + (version == null ? "dev" : version)};
    }
  }
}
