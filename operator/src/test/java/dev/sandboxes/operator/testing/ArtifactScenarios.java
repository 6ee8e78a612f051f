package dev.sandboxes.operator.testing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.operator.execution.ExecutionOutcome;
import dev.sandboxes.operator.runner.Artifact;
import dev.sandboxes.operator.runner.CollectedArtifacts;
import dev.sandboxes.operator.runner.RunnerReport;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The artifact cases every provider must pass with the default limits (10 files, 1 MiB): a 1 MiB
 * file beside a symlink to /etc/passwd, more files than the limit, and a matplotlib chart. The same
 * code runs on Docker (runc, runsc), SelfManaged pods, and the E2B and Aliyun fakes.
 */
public final class ArtifactScenarios {

  private ArtifactScenarios() {}

  /** A file of exactly 1 MiB (bytes i % 251) and a symlink to /etc/passwd. */
  public static String mebibyteAndSymlink(Language language) {
    return language == Language.PYTHON
        ? "import os\n"
            + "def main():\n"
            + "    d = os.environ['SANDBOX_OUTPUT_DIR']\n"
            + "    open(d + '/mebibyte.bin', 'wb').write(bytes(i % 251 for i in range(1048576)))\n"
            + "    os.symlink('/etc/passwd', d + '/passwd')\n"
            + "    return d\n"
        : "const fs = require('fs');\n"
            + "function main() {\n"
            + "  const d = process.env.SANDBOX_OUTPUT_DIR;\n"
            + "  const big = Buffer.alloc(1048576); for (let i = 0; i < big.length; i++) big[i] = i % 251;\n"
            + "  fs.writeFileSync(d + '/mebibyte.bin', big);\n"
            + "  fs.symlinkSync('/etc/passwd', d + '/passwd');\n"
            + "  return d;\n"
            + "}\n";
  }

  public static void assertMebibyteAndSymlink(ExecutionOutcome outcome) {
    assertThat(outcome.exitCode()).as(outcome.stderr().text()).isZero();
    RunnerReport report = outcome.report().against(outcome.exitCode());
    assertThat(report.status()).as(String.valueOf(report.untrusted())).isEqualTo("ok");
    assertThat(report.result().asText()).endsWith("/outputs"); // /tmp/outputs in sandboxes
    CollectedArtifacts artifacts = report.artifacts();
    assertThat(artifacts.problem()).isNull();
    assertThat(artifacts.files()).extracting(Artifact::name).containsExactly("mebibyte.bin");
    byte[] content = artifacts.files().get(0).content();
    assertThat(content).hasSize(1048576);
    for (int i = 0; i < content.length; i += 4099) {
      assertThat(content[i]).isEqualTo((byte) (i % 251));
    }
    assertThat(content[1048575]).isEqualTo((byte) (1048575 % 251));
    assertThat(artifacts.truncated()).isFalse();
    assertThat(artifacts.omitted())
        .extracting(CollectedArtifacts.Omitted::name, CollectedArtifacts.Omitted::reason)
        .containsExactly(org.assertj.core.groups.Tuple.tuple("passwd", "Symlink"));
  }

  /** notes/hello.txt and 12 numbered files: 13 files where 10 are allowed. */
  public static String moreFilesThanTheLimit(Language language) {
    return language == Language.PYTHON
        ? "import os\n"
            + "def main():\n"
            + "    d = os.environ['SANDBOX_OUTPUT_DIR']\n"
            + "    os.mkdir(d + '/notes')\n"
            + "    open(d + '/notes/hello.txt', 'w').write('héllo from the sandbox\\n')\n"
            + "    for i in range(1, 13):\n"
            + "        open(d + '/file-%02d.txt' % i, 'w').write(str(i))\n"
            + "    return 13\n"
        : "const fs = require('fs');\n"
            + "function main() {\n"
            + "  const d = process.env.SANDBOX_OUTPUT_DIR;\n"
            + "  fs.mkdirSync(d + '/notes');\n"
            + "  fs.writeFileSync(d + '/notes/hello.txt', 'héllo from the sandbox\\n');\n"
            + "  for (let i = 1; i <= 12; i++) fs.writeFileSync(d + '/file-' + String(i).padStart(2, '0') + '.txt', String(i));\n"
            + "  return 13;\n"
            + "}\n";
  }

  public static void assertMoreFilesThanTheLimit(ExecutionOutcome outcome) {
    assertThat(outcome.exitCode()).as(outcome.stderr().text()).isZero();
    RunnerReport report = outcome.report().against(outcome.exitCode());
    assertThat(report.status()).isEqualTo("ok");
    CollectedArtifacts artifacts = report.artifacts();
    assertThat(artifacts.files()).hasSize(10);
    assertThat(artifacts.files())
        .extracting(Artifact::name)
        .startsWith("file-01.txt")
        .endsWith("file-10.txt");
    assertThat(new String(artifacts.files().get(9).content(), StandardCharsets.UTF_8))
        .isEqualTo("10");
    assertThat(artifacts.truncated()).isTrue();
    Map<String, String> omitted =
        artifacts.omitted().stream()
            .collect(
                Collectors.toMap(
                    CollectedArtifacts.Omitted::name, CollectedArtifacts.Omitted::reason));
    assertThat(omitted)
        .containsExactlyInAnyOrderEntriesOf(
            Map.of(
                "file-11.txt", "TooMany", "file-12.txt", "TooMany", "notes/hello.txt", "TooMany"));
  }

  /** A line chart left open when main returns: it must come back as figure-1.png. */
  public static final String MATPLOTLIB_CHART =
      "import matplotlib.pyplot as plt\n"
          + "def main():\n"
          + "    plt.plot([1, 2, 3], [1, 4, 9])\n"
          + "    plt.title('squares')\n"
          + "    return plt.get_backend()\n";

  public static void assertMatplotlibChart(ExecutionOutcome outcome) {
    assertThat(outcome.exitCode()).as(outcome.stderr().text()).isZero();
    RunnerReport report = outcome.report().against(outcome.exitCode());
    assertThat(report.result().asText()).isEqualToIgnoringCase("agg");
    assertThat(report.artifacts().files())
        .extracting(Artifact::name)
        .containsExactly("figure-1.png");
    byte[] png = report.artifacts().files().get(0).content();
    assertThat(png.length).isGreaterThan(1000);
    assertThat(new String(png, 1, 3, StandardCharsets.US_ASCII)).isEqualTo("PNG");
  }
}
