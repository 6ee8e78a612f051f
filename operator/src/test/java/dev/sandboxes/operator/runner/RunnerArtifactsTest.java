package dev.sandboxes.operator.runner;

import static dev.sandboxes.api.v1alpha1.Language.JAVASCRIPT;
import static dev.sandboxes.api.v1alpha1.Language.PYTHON;
import static org.assertj.core.api.Assertions.assertThat;

import dev.sandboxes.api.v1alpha1.ExecutionMode;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.operator.execution.ExecutionOutcome;
import dev.sandboxes.operator.testing.LocalRunner;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Files under SANDBOX_OUTPUT_DIR, collected by the real runners (local python3 and node) and
 * assembled by {@link RunnerStreams}: what arrives, what is left out, and what is never followed.
 */
@Tag("unit")
class RunnerArtifactsTest {

  @TempDir Path temp;

  private ArtifactLimits limits(int maxArtifacts, long maxBytes) {
    return new ArtifactLimits(temp.resolve("outputs").toString(), maxArtifacts, maxBytes);
  }

  private static final Map<Language, String> TEXT_AND_MEBIBYTE =
      Map.of(
          PYTHON,
          "import os\n"
              + "def main():\n"
              + "    d = os.environ['SANDBOX_OUTPUT_DIR']\n"
              + "    open(os.path.join(d, 'hello.txt'), 'w').write('héllo\\n')\n"
              + "    os.makedirs(os.path.join(d, 'data', 'deep'))\n"
              + "    open(os.path.join(d, 'data', 'deep', 'big.bin'), 'wb').write(bytes(i % 251 for i in range(1048576 - 7)))\n"
              + "    return sorted(os.listdir(d))\n",
          JAVASCRIPT,
          "const fs = require('fs'); const path = require('path');\n"
              + "function main() {\n"
              + "  const d = process.env.SANDBOX_OUTPUT_DIR;\n"
              + "  fs.writeFileSync(path.join(d, 'hello.txt'), 'héllo\\n');\n"
              + "  fs.mkdirSync(path.join(d, 'data', 'deep'), { recursive: true });\n"
              + "  const big = Buffer.alloc(1048576 - 7); for (let i = 0; i < big.length; i++) big[i] = i % 251;\n"
              + "  fs.writeFileSync(path.join(d, 'data', 'deep', 'big.bin'), big);\n"
              + "  return fs.readdirSync(d).sort();\n"
              + "}\n");

  @ParameterizedTest
  @EnumSource(Language.class)
  void aTextFileAndANestedFileFillingTheByteLimitArriveIntactUnderRelativeNames(Language language)
      throws Exception {
    ExecutionOutcome outcome =
        LocalRunner.withArtifacts(
            language, ExecutionMode.FUNCTION, TEXT_AND_MEBIBYTE.get(language), limits(10, 1048576));
    assertThat(outcome.exitCode()).as(outcome.stderr().text()).isZero();
    assertThat(outcome.report().status()).isEqualTo("ok");
    assertThat(outcome.report().result().toString()).isEqualTo("[\"data\",\"hello.txt\"]");
    CollectedArtifacts artifacts = outcome.report().artifacts();
    assertThat(artifacts.problem()).isNull();
    assertThat(artifacts.truncated()).isFalse();
    assertThat(artifacts.files())
        .extracting(Artifact::name)
        .containsExactly("data/deep/big.bin", "hello.txt");
    Artifact big = artifacts.files().get(0);
    byte[] expected = new byte[1048576 - 7];
    for (int i = 0; i < expected.length; i++) {
      expected[i] = (byte) (i % 251);
    }
    assertThat(big.content()).isEqualTo(expected);
    assertThat(big.sha256())
        .isEqualTo(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(expected)));
    assertThat(new String(artifacts.files().get(1).content(), StandardCharsets.UTF_8))
        .isEqualTo("héllo\n");
    assertThat(artifacts.files().get(1).contentType()).isEqualTo("text/plain");
    assertThat(artifacts.totalBytes()).isEqualTo(1048576);
  }

  @ParameterizedTest
  @EnumSource(Language.class)
  void filesBeyondMaxArtifactsAndMaxArtifactBytesAreLeftOutAndTheRunStillSucceeds(
      Language language) {
    String code =
        language == PYTHON
            ? "import os\n"
                + "def main():\n"
                + "    d = os.environ['SANDBOX_OUTPUT_DIR']\n"
                + "    open(d + '/00-large.bin', 'wb').write(b'x' * 5000)\n"
                + "    for i in range(1, 13):\n"
                + "        open(d + '/%02d.txt' % i, 'w').write('n' * i)\n"
                + "    return 1\n"
            : "const fs = require('fs');\n"
                + "function main() {\n"
                + "  const d = process.env.SANDBOX_OUTPUT_DIR;\n"
                + "  fs.writeFileSync(d + '/00-large.bin', 'x'.repeat(5000));\n"
                + "  for (let i = 1; i <= 12; i++) fs.writeFileSync(d + '/' + String(i).padStart(2, '0') + '.txt', 'n'.repeat(i));\n"
                + "  return 1;\n"
                + "}\n";
    ExecutionOutcome outcome =
        LocalRunner.withArtifacts(language, ExecutionMode.FUNCTION, code, limits(10, 4096));
    assertThat(outcome.exitCode()).as(outcome.stderr().text()).isZero();
    assertThat(outcome.report().status()).isEqualTo("ok");
    CollectedArtifacts artifacts = outcome.report().artifacts();
    assertThat(artifacts.files())
        .extracting(Artifact::name)
        .containsExactly(
            "01.txt", "02.txt", "03.txt", "04.txt", "05.txt", "06.txt", "07.txt", "08.txt",
            "09.txt", "10.txt");
    assertThat(artifacts.truncated()).isTrue();
    assertThat(artifacts.omittedCount()).isEqualTo(3);
    assertThat(artifacts.omitted())
        .extracting(CollectedArtifacts.Omitted::name, CollectedArtifacts.Omitted::reason)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("00-large.bin", "TooLarge"),
            org.assertj.core.groups.Tuple.tuple("11.txt", "TooMany"),
            org.assertj.core.groups.Tuple.tuple("12.txt", "TooMany"));
    assertThat(artifacts.omissionSummary())
        .contains("00-large.bin (over maxArtifactBytes)", "11.txt (over maxArtifacts)");
  }

  @ParameterizedTest
  @EnumSource(Language.class)
  void symlinksFifosAndSymlinkedDirectoriesAreNeverFollowed(Language language) {
    String code =
        language == PYTHON
            ? "import os\n"
                + "def main():\n"
                + "    d = os.environ['SANDBOX_OUTPUT_DIR']\n"
                + "    os.symlink('/etc/passwd', d + '/passwd')\n"
                + "    os.symlink('/etc', d + '/etc')\n"
                + "    os.symlink('../../..', d + '/up')\n"
                + "    os.mkfifo(d + '/fifo')\n"
                + "    open(d + '/kept.txt', 'w').write('kept')\n"
            : "const fs = require('fs'); const { execFileSync } = require('child_process');\n"
                + "function main() {\n"
                + "  const d = process.env.SANDBOX_OUTPUT_DIR;\n"
                + "  fs.symlinkSync('/etc/passwd', d + '/passwd');\n"
                + "  fs.symlinkSync('/etc', d + '/etc');\n"
                + "  fs.symlinkSync('../../..', d + '/up');\n"
                + "  execFileSync('mkfifo', [d + '/fifo']);\n"
                + "  fs.writeFileSync(d + '/kept.txt', 'kept');\n"
                + "}\n";
    ExecutionOutcome outcome =
        LocalRunner.withArtifacts(language, ExecutionMode.FUNCTION, code, limits(10, 1048576));
    assertThat(outcome.exitCode()).as(outcome.stderr().text()).isZero();
    CollectedArtifacts artifacts = outcome.report().artifacts();
    assertThat(artifacts.files()).extracting(Artifact::name).containsExactly("kept.txt");
    assertThat(artifacts.truncated()).isFalse();
    Map<String, String> reasons =
        artifacts.omitted().stream()
            .collect(
                Collectors.toMap(
                    CollectedArtifacts.Omitted::name, CollectedArtifacts.Omitted::reason));
    assertThat(reasons)
        .containsExactlyInAnyOrderEntriesOf(
            Map.of(
                "passwd", "Symlink", "etc", "Symlink", "up", "Symlink", "fifo", "NotRegularFile"));
  }

  @ParameterizedTest
  @EnumSource(Language.class)
  void theOutputDirectoryStartsEmptyEvenWhenItWasASymlinkOrHeldFiles(Language language)
      throws IOException {
    Path outputs = temp.resolve("outputs");
    Path elsewhere = Files.createDirectories(temp.resolve("elsewhere"));
    Files.writeString(elsewhere.resolve("secret.txt"), "not yours");
    Files.createSymbolicLink(outputs, elsewhere);
    String code =
        language == PYTHON
            ? "import os\ndef main():\n    return os.listdir(os.environ['SANDBOX_OUTPUT_DIR'])\n"
            : "function main() { return require('fs').readdirSync(process.env.SANDBOX_OUTPUT_DIR); }\n";
    ExecutionOutcome outcome =
        LocalRunner.withArtifacts(language, ExecutionMode.FUNCTION, code, limits(10, 1048576));
    assertThat(outcome.report().result().toString()).isEqualTo("[]");
    assertThat(Files.isSymbolicLink(outputs)).isFalse();
    assertThat(elsewhere.resolve("secret.txt"))
        .hasContent("not yours"); // the link's target is untouched

    Files.writeString(outputs.resolve("stale.txt"), "from an earlier run");
    Files.createDirectories(outputs.resolve("old/dir"));
    outcome =
        LocalRunner.withArtifacts(language, ExecutionMode.FUNCTION, code, limits(10, 1048576));
    assertThat(outcome.report().result().toString()).isEqualTo("[]");
    assertThat(outcome.report().artifacts().files()).isEmpty();
  }

  @ParameterizedTest
  @EnumSource(Language.class)
  void aScriptThatFailsStillDeliversItsFilesBeforeTheDoneRecord(Language language) {
    String code =
        language == PYTHON
            ? "import os\nopen(os.environ['SANDBOX_OUTPUT_DIR'] + '/partial.csv', 'w').write('a,b\\n1,2\\n')\nraise SystemExit(3)\n"
            : "require('fs').writeFileSync(process.env.SANDBOX_OUTPUT_DIR + '/partial.csv', 'a,b\\n1,2\\n'); process.exit(3);\n";
    ExecutionOutcome outcome =
        LocalRunner.withArtifacts(language, ExecutionMode.SCRIPT, code, limits(10, 1048576));
    assertThat(outcome.exitCode()).isEqualTo(3);
    RunnerReport report = outcome.report().against(3);
    assertThat(report.isUntrusted()).as(String.valueOf(report.untrusted())).isFalse();
    assertThat(report.status()).isEqualTo("exit");
    assertThat(report.artifacts().files())
        .extracting(Artifact::name, Artifact::contentType)
        .containsExactly(org.assertj.core.groups.Tuple.tuple("partial.csv", "text/csv"));
  }

  @Test
  void pythonNeverImportsMatplotlibForCodeThatDoesNot() {
    ExecutionOutcome outcome =
        LocalRunner.withArtifacts(
            PYTHON,
            ExecutionMode.FUNCTION,
            "import sys, os\ndef main():\n    return ['matplotlib' in sys.modules, os.environ.get('MPLBACKEND')]\n",
            limits(10, 1048576));
    assertThat(outcome.report().result().toString()).isEqualTo("[false,\"Agg\"]");
  }

  @Test
  void withoutArtifactLimitsTheRunnersCollectNothingAndSetNoVariable() {
    for (Language language : Language.values()) {
      String code =
          language == PYTHON
              ? "import os\ndef main():\n    return os.environ.get('SANDBOX_OUTPUT_DIR')\n"
              : "function main() { return process.env.SANDBOX_OUTPUT_DIR === undefined ? null : 'set'; }";
      ExecutionOutcome outcome = LocalRunner.run(language, code, "{}");
      assertThat(outcome.report().result()).isNull();
      assertThat(outcome.report().artifacts().files()).isEmpty();
    }
  }

  /**
   * The figure hook against a minimal stand-in for matplotlib.pyplot on PYTHONPATH (matplotlib is
   * not installed on the build machine): figures still open when main returns, and those open at
   * plt.show(), become figure-N.png. The real library runs in the engine and end-to-end tests.
   */
  @Test
  void pythonSavesOpenFiguresAtShowAndWhenMainReturns() throws IOException {
    Path lib = Files.createDirectories(temp.resolve("lib/matplotlib"));
    Files.writeString(lib.resolve("__init__.py"), "");
    Files.writeString(
        lib.resolve("pyplot.py"),
        "_open = {}\n_next = [1]\n"
            + "class Figure:\n"
            + "    def __init__(self, n): self.n = n\n"
            + "    def savefig(self, path, format=None):\n"
            + "        open(path, 'wb').write(b'\\x89PNG fake figure %d' % self.n)\n"
            + "def figure(n=None):\n"
            + "    if n is None: n = _next[0]; _next[0] += 1\n"
            + "    return _open.setdefault(n, Figure(n))\n"
            + "def get_fignums(): return sorted(_open)\n"
            + "def close(f): _open.pop(f.n, None)\n"
            + "def get_backend(): return 'agg'\n"
            + "def show(*a, **k): raise RuntimeError('the real show() must not run under Agg')\n");
    String code =
        "import sys\nsys.path.insert(0, "
            + "'"
            + temp.resolve("lib")
            + "'"
            + ")\n"
            + "import matplotlib.pyplot as plt\n"
            + "def main():\n"
            + "    plt.figure(); plt.figure()\n"
            + "    plt.show()\n"
            + "    plt.figure()\n"
            + "    return plt.get_fignums()\n";
    ExecutionOutcome outcome =
        LocalRunner.withArtifacts(PYTHON, ExecutionMode.FUNCTION, code, limits(10, 1048576));
    assertThat(outcome.exitCode()).as(outcome.stderr().text()).isZero();
    assertThat(outcome.report().result().toString())
        .isEqualTo("[3]"); // show() closed the first two
    List<Artifact> files = outcome.report().artifacts().files();
    assertThat(files)
        .extracting(Artifact::name)
        .containsExactly("figure-1.png", "figure-2.png", "figure-3.png");
    assertThat(files).extracting(Artifact::contentType).containsOnly("image/png");
    assertThat(new String(files.get(2).content(), StandardCharsets.ISO_8859_1))
        .endsWith("fake figure 3");
  }
}
