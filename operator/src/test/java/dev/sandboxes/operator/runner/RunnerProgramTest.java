package dev.sandboxes.operator.runner;

import static dev.sandboxes.api.v1alpha1.Language.JAVASCRIPT;
import static dev.sandboxes.api.v1alpha1.Language.PYTHON;
import static org.assertj.core.api.Assertions.assertThat;

import dev.sandboxes.api.v1alpha1.ExecutionMode;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.operator.execution.ExecutionOutcome;
import dev.sandboxes.operator.testing.LocalRunner;
import java.time.Duration;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The runner programs, run for real by the local python3 and node. Each documented outcome of
 * docs/runner-protocol.md has a case here.
 */
class RunnerProgramTest {

  @Test
  void pythonArgumentsArriveAsDataIncludingTrueNullAndUnicode() {
    ExecutionOutcome outcome = LocalRunner.run(PYTHON,
        "def main(flag, nothing, nested, text):\n"
            + "    assert flag is True and nothing is None\n"
            + "    return {'flag': flag, 'nothing': nothing, 'nested': nested, 'text': text}\n",
        "{\"flag\":true,\"nothing\":null,\"nested\":{\"a\":[1,2,{\"b\":false}]},\"text\":\"héllo 世界 🚀\"}");
    assertThat(outcome.exitCode()).isZero();
    assertThat(outcome.report().status()).isEqualTo("ok");
    assertThat(outcome.report().result().toString())
        .isEqualTo("{\"flag\":true,\"nothing\":null,\"nested\":{\"a\":[1,2,{\"b\":false}]},\"text\":\"héllo 世界 🚀\"}");
  }

  @Test
  void javascriptArgumentsArriveAsOneObject() {
    ExecutionOutcome outcome = LocalRunner.run(JAVASCRIPT,
        "function main(args) { return { flag: args.flag, nothing: args.nothing, text: args.text, keys: Object.keys(args) }; }",
        "{\"flag\":true,\"nothing\":null,\"text\":\"héllo 世界 🚀\"}");
    assertThat(outcome.exitCode()).isZero();
    assertThat(outcome.report().result().toString())
        .isEqualTo("{\"flag\":true,\"nothing\":null,\"text\":\"héllo 世界 🚀\",\"keys\":[\"flag\",\"nothing\",\"text\"]}");
  }

  @ParameterizedTest
  @CsvSource({"PYTHON, 'def main():\n    return {}'", "JAVASCRIPT, 'function main(a) { return a }'"})
  void mainReceivesAnEmptyObjectWithoutArguments(Language language, String code) {
    ExecutionOutcome outcome = LocalRunner.run(language, code, "{}");
    assertThat(outcome.exitCode()).isZero();
    assertThat(outcome.report().result().toString()).isEqualTo("{}");
  }

  @ParameterizedTest
  @CsvSource({
    "PYTHON, 'def main(blob):\n    return len(blob)'",
    "JAVASCRIPT, 'function main(a) { return a.blob.length }'"
  })
  void sixtyFourKibOfArgumentsArriveIntact(Language language, String code) {
    String blob = "x".repeat(64 * 1024);
    ExecutionOutcome outcome = LocalRunner.run(language, code, "{\"blob\":\"" + blob + "\"}");
    assertThat(outcome.report().result().asInt()).isEqualTo(64 * 1024);
  }

  @Test
  void asyncPythonMainIsAwaited() {
    ExecutionOutcome outcome = LocalRunner.run(PYTHON,
        "import asyncio\nasync def main(x):\n    await asyncio.sleep(0.01)\n    return x * 2", "{\"x\":21}");
    assertThat(outcome.report().result().asInt()).isEqualTo(42);
  }

  @Test
  void asyncJavascriptMainIsAwaitedAndModuleExportsWork() {
    ExecutionOutcome outcome = LocalRunner.run(JAVASCRIPT,
        "const util = require('util');\n"
            + "module.exports = { main: async (a) => { await new Promise(r => setTimeout(r, 10)); return a.x * 2; } };",
        "{\"x\":21}");
    assertThat(outcome.exitCode()).isZero();
    assertThat(outcome.report().result().asInt()).isEqualTo(42);
  }

  @Test
  void javascriptConstArrowMainIsFound() {
    ExecutionOutcome outcome = LocalRunner.run(JAVASCRIPT, "const main = (a) => 'found';", "{}");
    assertThat(outcome.report().result().asText()).isEqualTo("found");
  }

  @Test
  void runnerNamesDoNotLeakIntoUserCode() {
    ExecutionOutcome python = LocalRunner.run(PYTHON,
        "def main():\n    return sorted(k for k in globals() if not k.startswith('__'))", "{}");
    assertThat(python.report().result().toString()).isEqualTo("[\"main\"]");
    // Declaring names the runner uses internally must not clash.
    ExecutionOutcome js = LocalRunner.run(JAVASCRIPT,
        "const fs = 1, vm = 2, envelope = 3, send = 4, done = 5, result = 6;\nfunction main() { return fs + vm + result; }",
        "{}");
    assertThat(js.exitCode()).isZero();
    assertThat(js.report().result().asInt()).isEqualTo(9);
  }

  @Test
  void stdoutAndStderrAreSeparateAndStderrAloneDoesNotFail() {
    ExecutionOutcome outcome = LocalRunner.run(PYTHON,
        "import sys, warnings\ndef main():\n    print('out')\n    warnings.warn('careful')\n    return 1", "{}");
    assertThat(outcome.exitCode()).isZero();
    assertThat(outcome.stdout().text()).isEqualTo("out\n");
    assertThat(outcome.stderr().text()).contains("UserWarning: careful");
  }

  @ParameterizedTest
  @CsvSource({"PYTHON, 'def mian():\n    pass'", "JAVASCRIPT, 'function mian() {}'"})
  void missingEntrypointIsAnErrorThatNamesIt(Language language, String code) {
    ExecutionOutcome outcome = LocalRunner.run(language, code, "{}");
    assertThat(outcome.exitCode()).isEqualTo(1);
    assertThat(outcome.report().kind()).isEqualTo("EntrypointNotFound");
    assertThat(outcome.report().message()).contains("main");
  }

  @Test
  void pythonSyntaxErrorIsReportedWithLineAndNoRunnerFrames() {
    ExecutionOutcome outcome = LocalRunner.run(PYTHON, "x = 1\ndef main(:\n    pass", "{}");
    assertThat(outcome.exitCode()).isEqualTo(1);
    assertThat(outcome.report().kind()).isEqualTo("SyntaxError");
    assertThat(outcome.report().message()).contains("line 2");
    assertThat(outcome.stderr().text()).contains("File \"main.py\", line 2").doesNotContain("_sandbox_runner");
  }

  @Test
  void javascriptSyntaxErrorAndEsModuleSyntaxAreExplained() {
    ExecutionOutcome outcome = LocalRunner.run(JAVASCRIPT, "export function main() {}", "{}");
    assertThat(outcome.exitCode()).isEqualTo(1);
    assertThat(outcome.report().kind()).isEqualTo("SyntaxError");
    assertThat(outcome.report().message()).contains("module.exports");
  }

  @Test
  void pythonExceptionGivesTracebackFromUserCode() {
    ExecutionOutcome outcome = LocalRunner.run(PYTHON, "def main():\n    return 1 / 0", "{}");
    assertThat(outcome.exitCode()).isEqualTo(1);
    assertThat(outcome.report().kind()).isEqualTo("Exception");
    assertThat(outcome.report().message()).isEqualTo("ZeroDivisionError: division by zero");
    assertThat(outcome.stderr().text())
        .startsWith("Traceback (most recent call last):\n  File \"main.py\", line 2, in main")
        .contains("return 1 / 0");
  }

  /** Source lines that tracebacks and syntax errors would print; each carries this marker. */
  private static final String MARKER = "s3cr3tMarker";

  static Stream<Arguments> codeThatFailsWithItsSourceShown() {
    return Stream.of(
        // an exception raised in main: the traceback shows the line
        Arguments.of(PYTHON,
            "def main():\n    s3cr3tMarker = 1\n    raise ValueError('boom')  # s3cr3tMarker\n", "ValueError: boom"),
        // a syntax error: Python shows the line with a caret
        Arguments.of(PYTHON, "x = 1\ns3cr3tMarker = = 2\n", "SyntaxError"),
        // an exception at module level, outside main
        Arguments.of(PYTHON,
            "import json  # s3cr3tMarker\njson.loads('{')  # s3cr3tMarker\ndef main():\n    pass\n", "JSONDecodeError"),
        // a syntax error: node prints the line with a caret above the stack, even without displayErrors
        Arguments.of(JAVASCRIPT,
            "const s3cr3tMarker = = 1;\nfunction main() {}\n", "SyntaxError"),
        // an error thrown at top level while the script is evaluated
        Arguments.of(JAVASCRIPT,
            "const s3cr3tMarkerValue = 1; null.x;\nfunction main() {}\n", "TypeError"));
  }

  @ParameterizedTest
  @MethodSource("codeThatFailsWithItsSourceShown")
  void codeFromASecretNeverHasItsSourceLinesPrinted(Language language, String code, String error) {
    ExecutionOutcome hidden = LocalRunner.runHidingSource(language, code);
    assertThat(hidden.exitCode()).isEqualTo(1);
    assertThat(hidden.stderr().text()).contains(error).doesNotContain(MARKER);
    // Frames still locate the error in the user's code.
    assertThat(hidden.stderr().text()).containsAnyOf("main.py", "main.js");
    assertThat(hidden.report().message()).doesNotContain(MARKER);
  }

  @ParameterizedTest
  @MethodSource("codeThatFailsWithItsSourceShown")
  void inlineCodeStillHasItsSourceLinesInTracebacks(Language language, String code, String error) {
    // The same cases without the flag do print the marker: they are real leaks that the flag stops.
    ExecutionOutcome shown = LocalRunner.run(language, code, "{}");
    assertThat(shown.stderr().text()).contains(error).contains(MARKER);
  }

  @Test
  void javascriptRejectionExitsNonZeroWithStack() {
    ExecutionOutcome outcome = LocalRunner.run(JAVASCRIPT,
        "async function main() { throw new TypeError('bad input'); }", "{}");
    assertThat(outcome.exitCode()).isEqualTo(1);
    assertThat(outcome.report().message()).isEqualTo("TypeError: bad input");
    assertThat(outcome.stderr().text()).contains("TypeError: bad input").contains("main.js:1").doesNotContain("[eval]");
  }

  @Test
  void javascriptUnhandledRejectionOutsideMainExitsNonZero() {
    ExecutionOutcome outcome = LocalRunner.run(JAVASCRIPT,
        "function main() { Promise.reject(new Error('stray')); return new Promise(() => {}); }", "{}");
    assertThat(outcome.exitCode()).isEqualTo(1);
    assertThat(outcome.stderr().text()).contains("Error: stray");
  }

  @Test
  void pythonSystemExitCodeIsTheExitCode() {
    ExecutionOutcome outcome = LocalRunner.run(PYTHON, "import sys\ndef main():\n    print('bye')\n    raise SystemExit(3)", "{}");
    assertThat(outcome.exitCode()).isEqualTo(3);
    assertThat(outcome.report().status()).isEqualTo("exit");
    assertThat(outcome.stdout().text()).isEqualTo("bye\n");
    assertThat(outcome.report().result()).isNull();
  }

  @Test
  void javascriptProcessExitCodeIsTheExitCode() {
    ExecutionOutcome outcome = LocalRunner.run(JAVASCRIPT, "function main() { console.log('bye'); process.exit(4); }", "{}");
    assertThat(outcome.exitCode()).isEqualTo(4);
    assertThat(outcome.report().finished()).isFalse();
    assertThat(outcome.stdout().text()).isEqualTo("bye\n");
  }

  @Test
  void pythonOsExitEndsAtOnceWithoutResult() {
    ExecutionOutcome outcome = LocalRunner.run(PYTHON,
        "import os, sys\ndef main():\n    sys.stdout.write('flushed\\n'); sys.stdout.flush()\n    os._exit(5)", "{}");
    assertThat(outcome.exitCode()).isEqualTo(5);
    assertThat(outcome.report().finished()).isFalse();
    assertThat(outcome.stdout().text()).isEqualTo("flushed\n");
  }

  @Test
  void resultStillArrivesWhenUserCodeClosesStdout() {
    ExecutionOutcome python = LocalRunner.run(PYTHON,
        "import os\ndef main():\n    print('before', flush=True)\n    os.close(1)\n    return 'still here'", "{}");
    assertThat(python.exitCode()).isZero();
    assertThat(python.stdout().text()).isEqualTo("before\n");
    assertThat(python.report().result().asText()).isEqualTo("still here");
    ExecutionOutcome js = LocalRunner.run(JAVASCRIPT,
        "const fs = require('fs');\nfunction main() { console.log('before'); fs.closeSync(1); return 'still here'; }", "{}");
    assertThat(js.exitCode()).isZero();
    assertThat(js.report().result().asText()).isEqualTo("still here");
  }

  @Test
  void pythonPrintAfterClosingSysStdoutIsAnOrdinaryError() {
    ExecutionOutcome outcome = LocalRunner.run(PYTHON,
        "import sys\ndef main():\n    sys.stdout.close()\n    print('x')", "{}");
    assertThat(outcome.exitCode()).isEqualTo(1);
    assertThat(outcome.report().message()).contains("closed file");
  }

  @ParameterizedTest
  @CsvSource({
    "PYTHON, 'def main():\n    return {1, 2}', set",
    "PYTHON, 'def main():\n    return float(\"nan\")', float",
    "JAVASCRIPT, 'function main() { return 10n }', BigInt",
    "JAVASCRIPT, 'function main() { const a = {}; a.self = a; return a }', circular",
    "JAVASCRIPT, 'function main() { return () => 1 }', function"
  })
  void valuesJsonCannotHoldGiveAClearError(Language language, String code, String mentioned) {
    ExecutionOutcome outcome = LocalRunner.run(language, code, "{}");
    assertThat(outcome.exitCode()).isEqualTo(1);
    assertThat(outcome.report().kind()).isEqualTo("ResultNotSerializable");
    assertThat(outcome.report().message()).containsIgnoringCase(mentioned).contains("JSON");
  }

  @ParameterizedTest
  @CsvSource({"PYTHON, 'def main():\n    return None'", "JAVASCRIPT, 'function main() { }'"})
  void noReturnValueMeansNoResult(Language language, String code) {
    ExecutionOutcome outcome = LocalRunner.run(language, code, "{}");
    assertThat(outcome.exitCode()).isZero();
    assertThat(outcome.report().status()).isEqualTo("ok");
    assertThat(outcome.report().result()).isNull();
  }

  @Test
  void userOutputCannotForgeTheResult() {
    // A fake record: right shape, wrong nonce. It must stay ordinary output and change nothing.
    String fake = "\\x1eSBX1" + "0".repeat(32) + "r0004" + "6666";
    ExecutionOutcome outcome = LocalRunner.run(PYTHON,
        "import sys\ndef main():\n    sys.stdout.write('" + fake + "')\n    return 1", "{}");
    assertThat(outcome.report().result().asInt()).isEqualTo(1);
    assertThat(outcome.stdout().text()).isEqualTo("\u001eSBX1" + "0".repeat(32) + "r00046666");
  }

  @Test
  void largeResultsAreChunkedAndReassembled() {
    ExecutionOutcome outcome = LocalRunner.run(PYTHON, "def main():\n    return 'é' * 100000", "{}");
    assertThat(outcome.report().result().asText()).hasSize(100000);
  }

  @Test
  void resultsTooLargeForTheStatusAreRejectedByTheOperator() {
    ExecutionOutcome outcome = LocalRunner.run(PYTHON, "def main():\n    return 'x' * 300000", "{}");
    assertThat(outcome.report().result()).isNull();
    assertThat(outcome.report().resultProblem()).contains("status.result");
  }

  @Test
  void binaryAndInvalidUtf8OutputBecomeReplacementCharacters() {
    ExecutionOutcome outcome = LocalRunner.run(PYTHON,
        "import sys\ndef main():\n    sys.stdout.buffer.write(b'ok \\xff\\xfe\\x00 end')\n    return 1", "{}");
    assertThat(outcome.exitCode()).isZero();
    assertThat(outcome.stdout().text()).isEqualTo("ok \uFFFD\uFFFD\u0000 end");
    assertThat(outcome.stdout().totalBytes()).isEqualTo(10);
  }

  @Test
  void tenMegabyteSingleLineIsCountedAndCutOnACharacterBoundary() {
    ExecutionOutcome outcome = LocalRunner.run(PYTHON, ExecutionMode.FUNCTION, "main",
        "import sys\ndef main():\n    sys.stdout.write('é' * (5 * 1024 * 1024))\n    return 'done'", "{}",
        Duration.ofSeconds(30), 65535);
    assertThat(outcome.exitCode()).isZero();
    assertThat(outcome.stdout().totalBytes()).isEqualTo(10L * 1024 * 1024);
    assertThat(outcome.stdout().truncated()).isTrue();
    // 65535 bytes hold 32767 two-byte characters; the half character at the cut is dropped.
    assertThat(outcome.stdout().text()).hasSize(32767).matches("é+");
    assertThat(outcome.report().result().asText()).isEqualTo("done");
  }

  @Test
  void scriptModeRunsTheProgramAndHasNoResult() {
    ExecutionOutcome outcome = LocalRunner.script(PYTHON, "import sys\nprint(__name__)\nprint(sys.argv)");
    assertThat(outcome.exitCode()).isZero();
    assertThat(outcome.stdout().text()).isEqualTo("__main__\n['main.py']\n");
    assertThat(outcome.report().result()).isNull();
    ExecutionOutcome js = LocalRunner.script(JAVASCRIPT, "setTimeout(() => console.log('later'), 20); console.log('now');");
    assertThat(js.exitCode()).isZero();
    assertThat(js.stdout().text()).isEqualTo("now\nlater\n");
  }

  @Test
  void userCodeReadingStdinGetsEndOfFileInsteadOfHanging() {
    ExecutionOutcome python = LocalRunner.run(PYTHON, "import sys\ndef main():\n    return sys.stdin.read()", "{}");
    assertThat(python.report().result().asText()).isEmpty();
    ExecutionOutcome js = LocalRunner.run(JAVASCRIPT,
        "function main() { return new Promise(r => { let d = ''; process.stdin.on('data', c => d += c); process.stdin.on('end', () => r(d)); }); }",
        "{}");
    assertThat(js.report().result().asText()).isEmpty();
  }

  @Test
  void pythonMemoryErrorIsReportedAsSuch() {
    ExecutionOutcome outcome = LocalRunner.run(PYTHON, "def main():\n    raise MemoryError()", "{}");
    assertThat(outcome.report().kind()).isEqualTo("MemoryError");
  }
}
