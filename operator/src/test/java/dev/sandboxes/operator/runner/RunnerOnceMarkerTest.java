package dev.sandboxes.operator.runner;

import static dev.sandboxes.api.v1alpha1.Language.JAVASCRIPT;
import static dev.sandboxes.api.v1alpha1.Language.PYTHON;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sandboxes.api.v1alpha1.ExecutionMode;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.operator.testing.LocalRunner;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The runners' once-only guard (docs/runner-protocol.md, "One envelope per sandbox"), with the real
 * runners (local python3 and node) started before their envelope, as pre-started runners are: the
 * first envelope runs and its artifacts still arrive before the done record, a second one is
 * refused with exit 73 before its code is read, and a runner whose stream ends before the first
 * byte takes no marker, so a fresh runner may still take the sandbox.
 */
@Tag("unit")
class RunnerOnceMarkerTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  /** Appends one line to the file named by the argument, writes one artifact, returns "ran". */
  private static final Map<Language, String> APPEND_AND_WRITE =
      Map.of(
          PYTHON,
          "import os\n"
              + "def main(ran):\n"
              + "    open(ran, 'a').write('ran\\n')\n"
              + "    open(os.path.join(os.environ['SANDBOX_OUTPUT_DIR'], 'report.txt'), 'w').write('done\\n')\n"
              + "    return 'ran'\n",
          JAVASCRIPT,
          "const fs = require('fs'); const path = require('path');\n"
              + "function main({ ran }) {\n"
              + "  fs.appendFileSync(ran, 'ran\\n');\n"
              + "  fs.writeFileSync(path.join(process.env.SANDBOX_OUTPUT_DIR, 'report.txt'), 'done\\n');\n"
              + "  return 'ran';\n"
              + "}\n");

  @TempDir Path temp;
  private final List<Process> processes = new ArrayList<>();

  @AfterEach
  void killLeftovers() {
    processes.forEach(Process::destroyForcibly);
  }

  @ParameterizedTest
  @EnumSource(Language.class)
  void theFirstEnvelopeRunsWithItsArtifactsAndASecondIsRefusedUnread(Language language)
      throws Exception {
    Path marker = temp.resolve("marker");
    Path ran = temp.resolve("ran");
    Waiting first = waiting(language, marker);
    Waiting second = waiting(language, marker);

    Ended one = first.send(language, ran);
    Ended two = second.send(language, ran);

    assertThat(one.exit).as(one.streams.stderrCapture().text()).isZero();
    RunnerReport report = one.streams.report().against(one.exit);
    assertThat(report.status())
        .as(String.valueOf(report.untrusted()))
        .isEqualTo("ok"); // artifacts before done
    assertThat(report.result().asText()).isEqualTo("ran");
    assertThat(report.artifacts().files()).extracting(Artifact::name).containsExactly("report.txt");
    assertThat(marker).exists();

    assertThat(two.exit).isEqualTo(RunnerProgram.ALREADY_USED_EXIT_CODE);
    assertThat(two.streams.report().finished()).isFalse();
    assertThat(two.streams.stderrCapture().text()).contains("already received an envelope");
    assertThat(Files.readAllLines(ran)).as("the code ran once").containsExactly("ran");
  }

  @ParameterizedTest
  @EnumSource(Language.class)
  void aRunnerWhoseStreamEndsBeforeAnyByteTakesNoMarker(Language language) throws Exception {
    Path marker = temp.resolve("marker");
    Waiting abandoned = waiting(language, marker);
    abandoned.local.process().getOutputStream().close(); // end of file before any envelope byte
    int exit = abandoned.local.exit().get(60, TimeUnit.SECONDS);

    assertThat(exit).isEqualTo(RunnerProgram.ENVELOPE_ERROR_EXIT_CODE);
    assertThat(marker).doesNotExist();
    Ended fresh = waiting(language, marker).send(language, temp.resolve("ran"));
    assertThat(fresh.exit).as(fresh.streams.stderrCapture().text()).isZero();
    assertThat(marker).exists();
  }

  /** A runner started with the marker path and no input yet. */
  private Waiting waiting(Language language, Path marker) {
    String nonce = RunnerProgram.newNonce();
    RunnerStreams streams = new RunnerStreams(nonce, 65536, ArtifactLimits.DEFAULT);
    LocalRunner.Waiting local =
        LocalRunner.startWaiting(
            RunnerProgram.command(language, marker.toString()),
            streams.stdout(),
            streams.stderr(),
            processes);
    return new Waiting(nonce, streams, local);
  }

  private record Waiting(String nonce, RunnerStreams streams, LocalRunner.Waiting local) {
    Ended send(Language language, Path ran) throws Exception {
      local.send(
          RunnerProgram.envelope(
              nonce,
              ExecutionMode.FUNCTION,
              "main",
              APPEND_AND_WRITE.get(language),
              JSON.createObjectNode().put("ran", ran.toString()),
              false,
              ArtifactLimits.DEFAULT));
      int exit = local.exit().get(60, TimeUnit.SECONDS);
      streams.finish();
      return new Ended(exit, streams);
    }
  }

  private record Ended(int exit, RunnerStreams streams) {}
}
