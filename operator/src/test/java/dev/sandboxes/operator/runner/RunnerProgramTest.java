package dev.sandboxes.operator.runner;

import static dev.sandboxes.api.v1alpha1.Language.JAVASCRIPT;
import static dev.sandboxes.api.v1alpha1.Language.PYTHON;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sandboxes.api.v1alpha1.CodeExecutionReason;
import dev.sandboxes.api.v1alpha1.ExecutionMode;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.OutputLimitAction;
import dev.sandboxes.operator.codeexecution.CodeExecutionStatusCalculator;
import dev.sandboxes.operator.codeexecution.CodeExecutionStatusCalculator.Verdict;
import dev.sandboxes.operator.execution.ExecutionOutcome;
import dev.sandboxes.operator.execution.Termination;
import dev.sandboxes.operator.testing.LocalRunner;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The runner programs, run for real by the local python3 and node. Each documented outcome of
 * docs/runner-protocol.md has a case here.
 */
@Tag("unit")
class RunnerProgramTest {

  @Test
  void pythonArgumentsArriveAsDataIncludingTrueNullAndUnicode() {
    ExecutionOutcome outcome =
        LocalRunner.run(
            PYTHON,
            "def main(flag, nothing, nested, text):\n"
                + "    assert flag is True and nothing is None\n"
                + "    return {'flag': flag, 'nothing': nothing, 'nested': nested, 'text': text}\n",
            "{\"flag\":true,\"nothing\":null,\"nested\":{\"a\":[1,2,{\"b\":false}]},\"text\":\"héllo 世界 🚀\"}");
    assertThat(outcome.exitCode()).isZero();
    assertThat(outcome.report().status()).isEqualTo("ok");
    assertThat(outcome.report().result().toString())
        .isEqualTo(
            "{\"flag\":true,\"nothing\":null,\"nested\":{\"a\":[1,2,{\"b\":false}]},\"text\":\"héllo 世界 🚀\"}");
  }

  @Test
  void javascriptArgumentsArriveAsOneObject() {
    ExecutionOutcome outcome =
        LocalRunner.run(
            JAVASCRIPT,
            "function main(args) { return { flag: args.flag, nothing: args.nothing, text: args.text, keys: Object.keys(args) }; }",
            "{\"flag\":true,\"nothing\":null,\"text\":\"héllo 世界 🚀\"}");
    assertThat(outcome.exitCode()).isZero();
    assertThat(outcome.report().result().toString())
        .isEqualTo(
            "{\"flag\":true,\"nothing\":null,\"text\":\"héllo 世界 🚀\",\"keys\":[\"flag\",\"nothing\",\"text\"]}");
  }

  @ParameterizedTest
  @CsvSource({
    "PYTHON, 'def main():\n    return {}'",
    "JAVASCRIPT, 'function main(a) { return a }'"
  })
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
    ExecutionOutcome outcome =
        LocalRunner.run(
            PYTHON,
            "import asyncio\nasync def main(x):\n    await asyncio.sleep(0.01)\n    return x * 2",
            "{\"x\":21}");
    assertThat(outcome.report().result().asInt()).isEqualTo(42);
  }

  @Test
  void asyncJavascriptMainIsAwaitedAndModuleExportsWork() {
    ExecutionOutcome outcome =
        LocalRunner.run(
            JAVASCRIPT,
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
    ExecutionOutcome python =
        LocalRunner.run(
            PYTHON,
            "def main():\n    return sorted(k for k in globals() if not k.startswith('__'))",
            "{}");
    assertThat(python.report().result().toString()).isEqualTo("[\"main\"]");
    // Declaring names the runner uses internally must not clash.
    ExecutionOutcome js =
        LocalRunner.run(
            JAVASCRIPT,
            "const fs = 1, vm = 2, envelope = 3, send = 4, done = 5, result = 6;\nfunction main() { return fs + vm + result; }",
            "{}");
    assertThat(js.exitCode()).isZero();
    assertThat(js.report().result().asInt()).isEqualTo(9);
  }

  @Test
  void stdoutAndStderrAreSeparateAndStderrAloneDoesNotFail() {
    ExecutionOutcome outcome =
        LocalRunner.run(
            PYTHON,
            "import sys, warnings\ndef main():\n    print('out')\n    warnings.warn('careful')\n    return 1",
            "{}");
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
    assertThat(outcome.stderr().text())
        .contains("File \"main.py\", line 2")
        .doesNotContain("_sandbox_runner");
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
        Arguments.of(
            PYTHON,
            "def main():\n    s3cr3tMarker = 1\n    raise ValueError('boom')  # s3cr3tMarker\n",
            "ValueError: boom"),
        // a syntax error: Python shows the line with a caret
        Arguments.of(PYTHON, "x = 1\ns3cr3tMarker = = 2\n", "SyntaxError"),
        // an exception at module level, outside main
        Arguments.of(
            PYTHON,
            "import json  # s3cr3tMarker\njson.loads('{')  # s3cr3tMarker\ndef main():\n    pass\n",
            "JSONDecodeError"),
        // a syntax error: node prints the line with a caret above the stack, even without
        // displayErrors
        Arguments.of(JAVASCRIPT, "const s3cr3tMarker = = 1;\nfunction main() {}\n", "SyntaxError"),
        // an error thrown at top level while the script is evaluated
        Arguments.of(
            JAVASCRIPT, "const s3cr3tMarkerValue = 1; null.x;\nfunction main() {}\n", "TypeError"));
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
    ExecutionOutcome outcome =
        LocalRunner.run(
            JAVASCRIPT, "async function main() { throw new TypeError('bad input'); }", "{}");
    assertThat(outcome.exitCode()).isEqualTo(1);
    assertThat(outcome.report().message()).isEqualTo("TypeError: bad input");
    assertThat(outcome.stderr().text())
        .contains("TypeError: bad input")
        .contains("main.js:1")
        .doesNotContain("[eval]");
  }

  @Test
  void javascriptUnhandledRejectionOutsideMainExitsNonZero() {
    ExecutionOutcome outcome =
        LocalRunner.run(
            JAVASCRIPT,
            "function main() { Promise.reject(new Error('stray')); return new Promise(() => {}); }",
            "{}");
    assertThat(outcome.exitCode()).isEqualTo(1);
    assertThat(outcome.stderr().text()).contains("Error: stray");
  }

  @Test
  void pythonSystemExitCodeIsTheExitCode() {
    ExecutionOutcome outcome =
        LocalRunner.run(
            PYTHON, "import sys\ndef main():\n    print('bye')\n    raise SystemExit(3)", "{}");
    assertThat(outcome.exitCode()).isEqualTo(3);
    assertThat(outcome.report().status()).isEqualTo("exit");
    assertThat(outcome.stdout().text()).isEqualTo("bye\n");
    assertThat(outcome.report().result()).isNull();
  }

  @Test
  void javascriptProcessExitCodeIsTheExitCode() {
    ExecutionOutcome outcome =
        LocalRunner.run(
            JAVASCRIPT, "function main() { console.log('bye'); process.exit(4); }", "{}");
    assertThat(outcome.exitCode()).isEqualTo(4);
    assertThat(outcome.report().status()).isEqualTo("exit");
    assertThat(outcome.report().exitCode()).isEqualTo(4);
    assertThat(outcome.report().result()).isNull();
    assertThat(outcome.stdout().text()).isEqualTo("bye\n");
    assertThat(verdict(outcome).reason()).isEqualTo(CodeExecutionReason.USER_CODE_ERROR);
  }

  @Test
  void pythonOsExitEndsAtOnceWithoutResult() {
    ExecutionOutcome outcome =
        LocalRunner.run(
            PYTHON,
            "import os, sys\ndef main():\n    sys.stdout.write('flushed\\n'); sys.stdout.flush()\n    os._exit(5)",
            "{}");
    assertThat(outcome.exitCode()).isEqualTo(5);
    assertThat(outcome.report().finished()).isFalse();
    assertThat(outcome.stdout().text()).isEqualTo("flushed\n");
  }

  @Test
  void resultStillArrivesWhenUserCodeClosesStdout() {
    ExecutionOutcome python =
        LocalRunner.run(
            PYTHON,
            "import os\ndef main():\n    print('before', flush=True)\n    os.close(1)\n    return 'still here'",
            "{}");
    assertThat(python.exitCode()).isZero();
    assertThat(python.stdout().text()).isEqualTo("before\n");
    assertThat(python.report().result().asText()).isEqualTo("still here");
    ExecutionOutcome js =
        LocalRunner.run(
            JAVASCRIPT,
            "const fs = require('fs');\nfunction main() { console.log('before'); fs.closeSync(1); return 'still here'; }",
            "{}");
    assertThat(js.exitCode()).isZero();
    assertThat(js.report().result().asText()).isEqualTo("still here");
  }

  @Test
  void pythonPrintAfterClosingSysStdoutIsAnOrdinaryError() {
    ExecutionOutcome outcome =
        LocalRunner.run(
            PYTHON, "import sys\ndef main():\n    sys.stdout.close()\n    print('x')", "{}");
    assertThat(outcome.exitCode()).isEqualTo(1);
    assertThat(outcome.report().message()).contains("closed file");
  }

  @ParameterizedTest
  @CsvSource({
    "PYTHON, 'def main():\n    return {1, 2}', set",
    "PYTHON, 'def main():\n    return float(\"nan\")', NaN",
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
    ExecutionOutcome outcome =
        LocalRunner.run(
            PYTHON,
            "import sys\ndef main():\n    sys.stdout.write('" + fake + "')\n    return 1",
            "{}");
    assertThat(outcome.report().result().asInt()).isEqualTo(1);
    assertThat(outcome.stdout().text()).isEqualTo("\u001eSBX1" + "0".repeat(32) + "r00046666");
  }

  @Test
  void largeResultsAreChunkedAndReassembled() {
    ExecutionOutcome outcome =
        LocalRunner.run(PYTHON, "def main():\n    return 'é' * 100000", "{}");
    assertThat(outcome.report().result().asText()).hasSize(100000);
  }

  @Test
  void resultsTooLargeForTheStatusAreRejectedByTheOperator() {
    ExecutionOutcome outcome =
        LocalRunner.run(PYTHON, "def main():\n    return 'x' * 300000", "{}");
    assertThat(outcome.report().result()).isNull();
    assertThat(outcome.report().resultProblem()).contains("status.result");
  }

  @Test
  void binaryAndInvalidUtf8OutputBecomeReplacementCharacters() {
    ExecutionOutcome outcome =
        LocalRunner.run(
            PYTHON,
            "import sys\ndef main():\n    sys.stdout.buffer.write(b'ok \\xff\\xfe\\x00 end')\n    return 1",
            "{}");
    assertThat(outcome.exitCode()).isZero();
    assertThat(outcome.stdout().text()).isEqualTo("ok \uFFFD\uFFFD\u0000 end");
    assertThat(outcome.stdout().totalBytes()).isEqualTo(10);
  }

  @Test
  void tenMegabyteSingleLineIsCountedAndCutOnACharacterBoundary() {
    ExecutionOutcome outcome =
        LocalRunner.run(
            PYTHON,
            ExecutionMode.FUNCTION,
            "main",
            "import sys\ndef main():\n    sys.stdout.write('é' * (5 * 1024 * 1024))\n    return 'done'",
            "{}",
            Duration.ofSeconds(30),
            65535);
    assertThat(outcome.exitCode()).isZero();
    assertThat(outcome.stdout().totalBytes()).isEqualTo(10L * 1024 * 1024);
    assertThat(outcome.stdout().truncated()).isTrue();
    // 65535 bytes hold 32767 two-byte characters; the half character at the cut is dropped.
    assertThat(outcome.stdout().text()).hasSize(32767).matches("é+");
    assertThat(outcome.report().result().asText()).isEqualTo("done");
  }

  @Test
  void scriptModeRunsTheProgramAndHasNoResult() {
    ExecutionOutcome outcome =
        LocalRunner.script(PYTHON, "import sys\nprint(__name__)\nprint(sys.argv)");
    assertThat(outcome.exitCode()).isZero();
    assertThat(outcome.stdout().text()).isEqualTo("__main__\n['main.py']\n");
    assertThat(outcome.report().result()).isNull();
    ExecutionOutcome js =
        LocalRunner.script(
            JAVASCRIPT, "setTimeout(() => console.log('later'), 20); console.log('now');");
    assertThat(js.exitCode()).isZero();
    assertThat(js.stdout().text()).isEqualTo("now\nlater\n");
  }

  @Test
  void userCodeReadingStdinGetsEndOfFileInsteadOfHanging() {
    ExecutionOutcome python =
        LocalRunner.run(PYTHON, "import sys\ndef main():\n    return sys.stdin.read()", "{}");
    assertThat(python.report().result().asText()).isEmpty();
    ExecutionOutcome js =
        LocalRunner.run(
            JAVASCRIPT,
            "function main() { return new Promise(r => { let d = ''; process.stdin.on('data', c => d += c); process.stdin.on('end', () => r(d)); }); }",
            "{}");
    assertThat(js.report().result().asText()).isEmpty();
  }

  @Test
  void aMemoryErrorRaisedInTheCodeIsAUserCodeErrorNotOutOfMemory() {
    // A MemoryError inside the code's own process is no evidence about the sandbox's memory limit:
    // `raise MemoryError()` produces the same record. OutOfMemory needs the backend's evidence.
    ExecutionOutcome outcome =
        LocalRunner.run(PYTHON, "def main():\n    raise MemoryError('too big')", "{}");
    assertThat(outcome.exitCode()).isEqualTo(1);
    assertThat(outcome.report().kind()).isEqualTo("MemoryError");
    Verdict verdict = verdict(outcome);
    assertThat(verdict.reason()).isEqualTo(CodeExecutionReason.USER_CODE_ERROR);
    assertThat(verdict.message())
        .contains("could not allocate memory")
        .contains("MemoryError: too big");
  }

  // --- Forged records: the nonce is out of reach, and records that contradict are never believed.

  @Test
  void pythonCodeCannotReachTheNonceByAnyMeansOfItsOwnProcessOrItsParent() {
    // Run as an unprivileged user, as in a sandbox (root may read any process's memory).
    Assumptions.assumeTrue(
        new java.io.File("/usr/bin/setpriv").canExecute(), "setpriv is needed to drop root");
    String nonce = RunnerProgram.newNonce();
    ExecutionOutcome outcome =
        LocalRunner.run(
            PYTHON,
            ExecutionMode.FUNCTION,
            "main",
            attack("nonce_hunt.py"),
            "{}",
            Duration.ofSeconds(60),
            65536,
            nonce,
            List.of(
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "/usr/bin/env",
                "PATH=/usr/bin:/bin"));
    assertThat(outcome.exitCode()).as(outcome.stderr().text()).isZero();
    assertThat(outcome.report().isUntrusted()).isFalse();
    JsonNode result = outcome.report().result();
    assertThat(result.get("uid").asInt()).isEqualTo(65534);
    // gc.get_objects(), every frame's locals and the process's whole memory: no nonce there.
    assertThat(result.get("candidates").toString()).doesNotContain(nonce);
    // The runner's own process, which holds the nonce, is closed to the code...
    JsonNode parent = result.get("parent");
    assertThat(parent.get("mem").asText()).isEqualTo("Permission denied");
    if (!new java.io.File("/proc/sys/kernel/yama/ptrace_scope").exists()) {
      // Without Yama the parent makes itself non-dumpable, which also closes these.
      assertThat(parent.get("fd").asText()).isEqualTo("Permission denied");
      assertThat(parent.get("environ").asText()).isEqualTo("Permission denied");
    }
    assertThat(parent.get("process_vm_readv").asText()).isEqualTo("Operation not permitted");
    assertThat(parent.get("ptrace").asText()).isEqualTo("Operation not permitted");
    // ...while the same probes succeed against an ordinary process of the same user.
    JsonNode sibling = result.get("sibling");
    assertThat(sibling.get("environ").asText()).isEqualTo("readable");
    assertThat(sibling.get("fd").asText()).isEqualTo("listable");
    // The forged records (one per candidate) stayed ordinary output.
    assertThat(verdict(outcome).reason()).isEqualTo(CodeExecutionReason.COMPLETED);
  }

  @Test
  void javascriptCodeThatPatchesEverythingTheRunnerCallsCannotForgeARecord() {
    ExecutionOutcome outcome = LocalRunner.run(JAVASCRIPT, attack("nonce_hunt.js"), "{}");
    assertThat(outcome.exitCode()).as(outcome.stderr().text()).isZero();
    // The hooks and the heap scan work (they find what was planted), yet nothing of the runner's.
    assertThat(outcome.stderr().text())
        .contains("fs binding: refused")
        .contains("hooks catch a record: true")
        .contains("heap shows a planted nonce: true");
    assertThat(outcome.report().isUntrusted()).isFalse();
    assertThat(outcome.report().result().asText()).isEqualTo("genuine");
    assertThat(verdict(outcome).reason()).isEqualTo(CodeExecutionReason.COMPLETED);
  }

  @ParameterizedTest
  @MethodSource("aSecondDoneRecordFromCodeThatKnowsTheNonceIsNeverBelievedCases")
  void aSecondDoneRecordFromCodeThatKnowsTheNonceIsNeverBelieved(Language language, String code) {
    // The test plays an attacker who found the nonce: it is handed to the code as an argument.
    String nonce = RunnerProgram.newNonce();
    ExecutionOutcome outcome =
        LocalRunner.run(
            language,
            ExecutionMode.FUNCTION,
            "main",
            recordHelper(language) + code,
            "{\"nonce\":\"" + nonce + "\"}",
            Duration.ofSeconds(20),
            65536,
            nonce,
            List.of());
    assertThat(outcome.exitCode()).isZero();
    assertThat(outcome.report().isUntrusted()).isTrue();
    assertThat(outcome.report().result()).isNull();
    Verdict verdict = verdict(outcome);
    assertThat(verdict.succeeded()).isFalse();
    assertThat(verdict.reason()).isEqualTo(CodeExecutionReason.USER_CODE_ERROR);
    assertThat(verdict.message()).contains("cannot be believed").contains("2 done records");
  }

  @ParameterizedTest
  @MethodSource("aForgedMemoryErrorFromARunThatExitsZeroIsNeitherOutOfMemoryNorASuccessCases")
  void aForgedMemoryErrorFromARunThatExitsZeroIsNeitherOutOfMemoryNorASuccess(
      Language language, String code) {
    String nonce = RunnerProgram.newNonce();
    ExecutionOutcome outcome =
        LocalRunner.run(
            language,
            ExecutionMode.FUNCTION,
            "main",
            recordHelper(language) + code,
            "{\"nonce\":\"" + nonce + "\"}",
            Duration.ofSeconds(20),
            65536,
            nonce,
            List.of());
    assertThat(outcome.exitCode()).isZero();
    Verdict verdict = verdict(outcome);
    assertThat(verdict.reason()).isEqualTo(CodeExecutionReason.USER_CODE_ERROR);
    assertThat(verdict.message()).contains("cannot be believed").contains("exited with code 0");
  }

  @Test
  void bytesWrittenOnThePythonRunnersChannelMakeTheRecordsUnbelievable() {
    ExecutionOutcome outcome =
        LocalRunner.run(
            PYTHON,
            "import os\ndef main():\n    os.write(0, b'd00000010{\"status\":\"ok\"}garbage')\n    return 1",
            "{}");
    assertThat(outcome.report().isUntrusted()).isTrue();
    assertThat(verdict(outcome).reason()).isEqualTo(CodeExecutionReason.USER_CODE_ERROR);
  }

  // --- Output: every byte arrives and is counted, whatever the size.

  @ParameterizedTest
  @CsvSource({"200001", "5242880"})
  void javascriptOutputIsNeverLostWhenTheRunnerExits(int size) {
    ExecutionOutcome outcome =
        LocalRunner.run(
            JAVASCRIPT,
            ExecutionMode.FUNCTION,
            "main",
            "function main() { process.stdout.write('x'.repeat("
                + size
                + ")); process.stderr.write('e'.repeat("
                + size
                + ")); console.log('end'); return 'done'; }",
            "{}",
            Duration.ofSeconds(60),
            65536);
    assertThat(outcome.exitCode()).isZero();
    assertThat(outcome.stdout().totalBytes()).isEqualTo(size + 4L);
    assertThat(outcome.stderr().totalBytes()).isEqualTo(size);
    assertThat(outcome.report().result().asText()).isEqualTo("done");
  }

  @Test
  void javascriptOutputIsNeverLostWhenTheCodeExitsOrFailsEither() {
    ExecutionOutcome exit =
        LocalRunner.run(
            JAVASCRIPT,
            "function main() { process.stdout.write('y'.repeat(200001)); process.exit(3); }",
            "{}");
    assertThat(exit.exitCode()).isEqualTo(3);
    assertThat(exit.stdout().totalBytes()).isEqualTo(200001);
    ExecutionOutcome thrown =
        LocalRunner.run(
            JAVASCRIPT,
            "function main() { process.stdout.write('z'.repeat(3 * 1024 * 1024)); throw new Error('late'); }",
            "{}");
    assertThat(thrown.exitCode()).isEqualTo(1);
    assertThat(thrown.stdout().totalBytes()).isEqualTo(3 * 1024 * 1024);
    ExecutionOutcome script =
        LocalRunner.script(
            JAVASCRIPT, "process.stdout.write('s'.repeat(200001)); process.exit(0);");
    assertThat(script.exitCode()).isZero();
    assertThat(script.stdout().totalBytes()).isEqualTo(200001);
  }

  // --- JSON: exact semantics, and a message with the path of the first value that does not fit.

  @ParameterizedTest
  @MethodSource("valuesJsonCannotHoldNameTheTypeAndThePathCases")
  void valuesJsonCannotHoldNameTheTypeAndThePath(Language language, String code, String expected) {
    ExecutionOutcome outcome = LocalRunner.run(language, code, "{}");
    assertThat(outcome.exitCode()).isEqualTo(1);
    assertThat(outcome.report().kind()).isEqualTo("ResultNotSerializable");
    assertThat(outcome.report().message())
        .startsWith("main() returned a value JSON cannot hold: ")
        .contains(expected);
    Verdict verdict = verdict(outcome);
    assertThat(verdict.reason()).isEqualTo(CodeExecutionReason.USER_CODE_ERROR);
    assertThat(verdict.message()).contains(expected);
  }

  @ParameterizedTest
  @MethodSource("theDocumentedMappingIsExactCases")
  void theDocumentedMappingIsExact(Language language, String code, String json) {
    ExecutionOutcome outcome = LocalRunner.run(language, code, "{}");
    assertThat(outcome.exitCode()).as(outcome.stderr().text()).isZero();
    assertThat(outcome.report().result().toString()).isEqualTo(json);
  }

  // --- A JavaScript main that never settles.

  @Test
  void javascriptMainThatNeverSettlesFailsOnceTheEventLoopIsEmpty() {
    ExecutionOutcome outcome =
        LocalRunner.run(JAVASCRIPT, "async function main() { await new Promise(() => {}); }", "{}");
    assertThat(outcome.exitCode()).isEqualTo(1);
    assertThat(outcome.report().kind()).isEqualTo("NeverSettled");
    Verdict verdict = verdict(outcome);
    assertThat(verdict.reason()).isEqualTo(CodeExecutionReason.USER_CODE_ERROR);
    assertThat(verdict.message()).contains("main() returned a promise that never settled");
  }

  @Test
  void javascriptMainWithAnOpenHandleRunsUntilTheTimeout() {
    ExecutionOutcome outcome =
        LocalRunner.run(
            JAVASCRIPT,
            ExecutionMode.FUNCTION,
            "main",
            "function main() { setInterval(() => {}, 1000); return new Promise(() => {}); }",
            "{}",
            Duration.ofSeconds(3),
            65536);
    assertThat(outcome.termination()).isEqualTo(Termination.TIMED_OUT);
  }

  // --- Python edge cases behave as `python3 main.py` would, and the result still arrives.

  @Test
  void pythonCodeThatClosesEveryOtherDescriptorStillDeliversItsResult() {
    ExecutionOutcome outcome =
        LocalRunner.run(
            PYTHON,
            "import os\ndef main():\n    os.closerange(3, 65536)\n    print('still printing')\n    return 'delivered'",
            "{}");
    assertThat(outcome.exitCode()).as(outcome.stderr().text()).isZero();
    assertThat(outcome.stderr().text()).isEmpty();
    assertThat(outcome.stdout().text()).isEqualTo("still printing\n");
    assertThat(outcome.report().result().asText()).isEqualTo("delivered");
    ExecutionOutcome stdin =
        LocalRunner.run(
            PYTHON, "import os\ndef main():\n    os.close(0)\n    return 'delivered'", "{}");
    assertThat(stdin.report().result().asText()).isEqualTo("delivered");
  }

  @Test
  void pythonMemoryErrorWhileSerialisingTheResultIsReported() {
    // The value is small in memory (one shared string) but 40 MB as JSON; the address-space limit
    // set by the code leaves no room for that.
    ExecutionOutcome outcome =
        LocalRunner.run(
            PYTHON,
            "import resource\ndef main():\n    value = ['x' * 100] * 400000\n"
                + "    size = int([l for l in open('/proc/self/status') if l.startswith('VmSize')][0].split()[1]) * 1024\n"
                + "    resource.setrlimit(resource.RLIMIT_AS, (size + 16 * 1024 * 1024, size + 16 * 1024 * 1024))\n"
                + "    return value",
            "{}");
    assertThat(outcome.exitCode()).isEqualTo(1);
    assertThat(outcome.report().kind()).isEqualTo("MemoryError");
    assertThat(outcome.report().message()).contains("too large to serialise as JSON");
    assertThat(outcome.stderr().text()).doesNotContain("Traceback").doesNotContain("_sandbox");
    assertThat(verdict(outcome).reason()).isEqualTo(CodeExecutionReason.USER_CODE_ERROR);
  }

  @ParameterizedTest
  @MethodSource("pythonScriptModeEndsExactlyAsPython3MainPyDoesCases")
  void pythonScriptModeEndsExactlyAsPython3MainPyDoes(String code) throws Exception {
    java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("plain-python");
    java.nio.file.Files.writeString(dir.resolve("main.py"), code);
    Process plain =
        new ProcessBuilder("python3", "-X", "utf8", "main.py").directory(dir.toFile()).start();
    plain.getOutputStream().close();
    String plainOut =
        new String(plain.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    // Python 3.9+ names the script by its absolute path; the runner's code is "main.py".
    String plainErr =
        new String(plain.getErrorStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8)
            .replace(dir.resolve("main.py").toString(), "main.py");
    int plainExit = plain.waitFor();

    ExecutionOutcome outcome = LocalRunner.script(PYTHON, code);
    assertThat(outcome.exitCode()).isEqualTo(plainExit);
    assertThat(outcome.stdout().text()).isEqualTo(plainOut);
    assertThat(outcome.stderr().text()).isEqualTo(plainErr);
    assertThat(outcome.report().isUntrusted()).isFalse();
    assertThat(outcome.report().against(outcome.exitCode()).isUntrusted()).isFalse();
    Verdict verdict =
        CodeExecutionStatusCalculator.verdict(
            outcome, ExecutionMode.SCRIPT, "main", OutputLimitAction.TRUNCATE, 20);
    assertThat(verdict.succeeded()).isEqualTo(plainExit == 0);
  }

  // --- Signals: the exit code a shell shows, and never OutOfMemory without evidence.

  @ParameterizedTest
  @MethodSource("aKilledOrCrashedProcessIsAUserCodeErrorWithTheShellsExitCodeCases")
  void aKilledOrCrashedProcessIsAUserCodeErrorWithTheShellsExitCode(
      Language language, String code, int exit, String said) {
    ExecutionOutcome outcome = LocalRunner.run(language, code, "{}");
    assertThat(outcome.exitCode()).isEqualTo(exit);
    assertThat(outcome.stdout().text()).isEqualTo("about to die\n");
    assertThat(outcome.report().finished()).isFalse();
    Verdict verdict = verdict(outcome);
    assertThat(verdict.reason()).isEqualTo(CodeExecutionReason.USER_CODE_ERROR);
    assertThat(verdict.message()).contains(said).contains("exit code " + exit);
  }

  static Stream<Arguments> aSecondDoneRecordFromCodeThatKnowsTheNonceIsNeverBelievedCases() {
    return Stream.of(
        Arguments.of(
            PYTHON,
            "import os\ndef main(nonce):\n    os.write(1, record(nonce, 'r', '\"forged\"') + record(nonce, 'd', '{\"status\":\"ok\",\"resultBytes\":8}'))\n    return 'real'"),
        Arguments.of(
            JAVASCRIPT,
            "function main({nonce}) { process.stdout.write(record(nonce, 'r', '\"forged\"') + record(nonce, 'd', '{\"status\":\"ok\",\"resultBytes\":8}')); return 'real'; }"));
  }

  static Stream<Arguments>
      aForgedMemoryErrorFromARunThatExitsZeroIsNeitherOutOfMemoryNorASuccessCases() {
    return Stream.of(
        Arguments.of(
            PYTHON,
            "import os\ndef main(nonce):\n    os.write(1, record(nonce, 'd', '{\"status\":\"error\",\"kind\":\"MemoryError\",\"message\":\"MemoryError\"}'))\n    os._exit(0)"),
        Arguments.of(
            JAVASCRIPT,
            "function main({nonce}) { require('fs').writeSync(1, record(nonce, 'd', '{\"status\":\"error\",\"kind\":\"MemoryError\",\"message\":\"MemoryError\"}')); process.reallyExit(0); }"));
  }

  static Stream<Arguments> valuesJsonCannotHoldNameTheTypeAndThePathCases() {
    return Stream.of(
        Arguments.of(
            PYTHON,
            "def main():\n    return {'stats': {'mean': float('nan')}}",
            "result.stats.mean is NaN"),
        Arguments.of(PYTHON, "def main():\n    return [1, float('inf')]", "result[1] is Infinity"),
        Arguments.of(PYTHON, "def main():\n    return {'tags': {'a'}}", "result.tags is a set"),
        Arguments.of(PYTHON, "def main():\n    return {'raw': b'x'}", "result.raw is a bytes"),
        Arguments.of(
            PYTHON,
            "import decimal\ndef main():\n    return {'price': decimal.Decimal('1.5')}",
            "result.price is a decimal.Decimal"),
        Arguments.of(
            PYTHON,
            "def main():\n    a = {}\n    a['self'] = a\n    return {'a': a}",
            "result.a.self refers back to result.a (a circular reference)"),
        Arguments.of(
            PYTHON,
            "def main():\n    return {'by year': {2024: 1}}",
            "result[\"by year\"] has a key of type int (2024)"),
        Arguments.of(
            PYTHON,
            "def main():\n    return ['ok', '\\ud800']",
            "result[1] contains a lone surrogate (U+D800)"),
        Arguments.of(PYTHON, "def main():\n    return main", "result is a function"),
        Arguments.of(
            PYTHON,
            "def main():\n    x = []\n    for _ in range(600):\n        x = [x]\n    return x",
            "is nested more than 500 levels deep"),
        Arguments.of(
            JAVASCRIPT,
            "function main() { return { stats: { mean: NaN } }; }",
            "result.stats.mean is NaN"),
        Arguments.of(
            JAVASCRIPT, "function main() { return [1, -Infinity]; }", "result[1] is -Infinity"),
        Arguments.of(
            JAVASCRIPT,
            "function main() { return { tags: new Set(['a']) }; }",
            "result.tags is a Set"),
        Arguments.of(
            JAVASCRIPT,
            "function main() { return { index: new Map() }; }",
            "result.index is a Map"),
        Arguments.of(
            JAVASCRIPT, "function main() { return { big: 10n }; }", "result.big is a BigInt (10n)"),
        Arguments.of(
            JAVASCRIPT,
            "function main() { const a = {}; a.self = a; return { a }; }",
            "result.a.self refers back to result.a (a circular reference)"),
        Arguments.of(
            JAVASCRIPT,
            "function main() { return { list: [1, undefined] }; }",
            "result.list[1] is undefined, which a JSON array cannot hold"),
        Arguments.of(
            JAVASCRIPT,
            "function main() { return { list: [1, , 3] }; }",
            "result.list[1] is undefined"),
        Arguments.of(
            JAVASCRIPT, "function main() { return { f: () => 1 }; }", "result.f is a function"),
        Arguments.of(
            JAVASCRIPT,
            "function main() { return { raw: Buffer.from('x') }; }",
            "result.raw is a Buffer"),
        Arguments.of(
            JAVASCRIPT,
            "function main() { return { when: new Date(NaN) }; }",
            "result.when is an invalid Date"),
        Arguments.of(
            JAVASCRIPT,
            "function main() { return { error: new TypeError('no') }; }",
            "result.error is an Error (TypeError: no)"),
        Arguments.of(
            JAVASCRIPT,
            "function main() { return ['ok', '\\ud800']; }",
            "result[1] contains a lone surrogate"),
        Arguments.of(
            JAVASCRIPT,
            "function main() { return { 'a b': Symbol('s') }; }",
            "result[\"a b\"] is a symbol"));
  }

  static Stream<Arguments> theDocumentedMappingIsExactCases() {
    return Stream.of(
        Arguments.of(
            PYTHON,
            "import collections\ndef main():\n    return {'t': (1, 2), 'big': 2**70, 'c': collections.OrderedDict(b=1), 'f': 1.5, 'n': None}",
            "{\"t\":[1,2],\"big\":1180591620717411303424,\"c\":{\"b\":1},\"f\":1.5,\"n\":null}"),
        Arguments.of(
            JAVASCRIPT,
            "class P { constructor() { this.x = 1; } get y() { return 2; } }\nfunction main() { return { d: new Date(0), p: new P(), gone: undefined, n: new Number(3), s: new String('s'), z: -0, u: [null] }; }",
            "{\"d\":\"1970-01-01T00:00:00.000Z\",\"p\":{\"x\":1},\"n\":3,\"s\":\"s\",\"z\":0,\"u\":[null]}"));
  }

  static Stream<Arguments> pythonScriptModeEndsExactlyAsPython3MainPyDoesCases() {
    return Stream.of(
        // sys.exit waits for non-daemon threads and runs atexit handlers
        Arguments.of(
            "import atexit, sys, threading, time\natexit.register(lambda: print('atexit ran', flush=True))\ndef work():\n    time.sleep(0.3)\n    print('thread finished', flush=True)\nthreading.Thread(target=work).start()\nprint('exiting')\nsys.exit(3)"),
        // an uncaught exception is printed, then the program ends the same way with code 1
        Arguments.of(
            "import atexit, threading, time\natexit.register(lambda: print('atexit ran'))\nthreading.Thread(target=lambda: (time.sleep(0.3), print('thread finished'))).start()\ndef fail():\n    raise ValueError('boom')\nfail()"),
        // a message to sys.exit goes to stderr and means code 1
        Arguments.of("import sys\nprint('before')\nsys.exit('stopping here')"),
        // falling off the end
        Arguments.of("import atexit\natexit.register(lambda: print('bye'))\nprint('hello')"));
  }

  static Stream<Arguments> aKilledOrCrashedProcessIsAUserCodeErrorWithTheShellsExitCodeCases() {
    return Stream.of(
        Arguments.of(
            PYTHON,
            "import os\ndef main():\n    print('about to die', flush=True)\n    os.kill(os.getpid(), 9)",
            137,
            "signal 9 (SIGKILL"),
        Arguments.of(
            JAVASCRIPT,
            "function main() { console.log('about to die'); process.kill(process.pid, 'SIGKILL'); }",
            137,
            "signal 9 (SIGKILL"),
        Arguments.of(
            PYTHON,
            "import ctypes\ndef main():\n    print('about to die', flush=True)\n    ctypes.string_at(0)",
            139,
            "signal 11 (SIGSEGV: a segmentation fault"),
        Arguments.of(
            JAVASCRIPT,
            "function main() { console.log('about to die'); process.kill(process.pid, 'SIGSEGV'); }",
            139,
            "signal 11 (SIGSEGV: a segmentation fault"));
  }

  private static Verdict verdict(ExecutionOutcome outcome) {
    return CodeExecutionStatusCalculator.verdict(
        outcome, ExecutionMode.FUNCTION, "main", OutputLimitAction.TRUNCATE, 20);
  }

  /** A function that frames a record the way the runners do, for code that plays the attacker. */
  private static String recordHelper(Language language) {
    return language == PYTHON
        ? "def record(nonce, kind, payload):\n    data = payload.encode()\n"
            + "    return b'\\x1eSBX1' + nonce.encode() + kind.encode() + b'%04x' % len(data) + data\n"
        : "function record(nonce, kind, payload) { const data = Buffer.from(payload);"
            + " return Buffer.concat([Buffer.from('\\x1eSBX1' + nonce + kind + data.length.toString(16).padStart(4, '0'), 'latin1'), data]); }\n";
  }

  static String attack(String name) {
    try (java.io.InputStream in = RunnerProgramTest.class.getResourceAsStream("attacks/" + name)) {
      return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
