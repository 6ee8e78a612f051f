package dev.sandboxes.operator.backend.aliyun;

import static dev.sandboxes.operator.testing.TestResources.ALIYUN_SECRET;
import static dev.sandboxes.operator.testing.TestResources.aliyunCredentials;
import static dev.sandboxes.operator.testing.TestResources.anAliyunProvider;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sandboxes.api.v1alpha1.ExecutionMode;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.api.v1alpha1.SandboxProviderReason;
import dev.sandboxes.operator.backend.ProbeResult;
import dev.sandboxes.operator.backend.RunControl;
import dev.sandboxes.operator.backend.SandboxLease;
import dev.sandboxes.operator.config.OperatorConfig;
import dev.sandboxes.operator.execution.ExecutionOutcome;
import dev.sandboxes.operator.execution.ExecutionRequest;
import dev.sandboxes.operator.execution.Termination;
import dev.sandboxes.operator.provider.BackendContext;
import dev.sandboxes.operator.provider.ProviderSettings;
import dev.sandboxes.operator.provider.ServiceCallListener;
import dev.sandboxes.operator.runner.ArtifactLimits;
import dev.sandboxes.operator.testing.FakeAgentRunServer;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The Aliyun backend against the fake AgentRun service: real python3 and node runs, every error
 * mapping, and the cleanup guarantee (no sandbox is left in the fake after any test).
 */
@Tag("unit")
class AliyunSandboxBackendTest {

  static final AgentRunTimings FAST =
      new AgentRunTimings(
          Duration.ofSeconds(3),
          3,
          Duration.ofMillis(50),
          Duration.ofSeconds(10),
          Duration.ofMillis(200),
          Duration.ofSeconds(1),
          Duration.ofSeconds(5),
          Duration.ofMillis(50),
          Duration.ofSeconds(2),
          300,
          Duration.ofHours(1),
          Duration.ofMinutes(10),
          64L * 1024 * 1024);
  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * The time limit of runs whose subject is not the limit: AgentRun's longest, because on a machine
   * that other builds keep busy even a trivial Python program can take seconds to start.
   */
  private static final int UNTIMED = 30;

  private FakeAgentRunServer fake;
  private final List<AliyunSandboxBackend> backends = new ArrayList<>();

  @BeforeEach
  void startFake() {
    fake = new FakeAgentRunServer();
  }

  @AfterEach
  void noSandboxLeftBehind() {
    try {
      assertThat(fake.liveSandboxes()).as("sandboxes left in AgentRun").isEmpty();
      assertThat(backends).allSatisfy(b -> assertThat(b.activeSandboxes()).isEmpty());
    } finally {
      backends.forEach(AliyunSandboxBackend::close);
      fake.close();
    }
  }

  // ---- probe ----

  @Test
  void probeCreatesTheDefaultTemplateOnceAndReusesIt() {
    fake.templatePollsUntilReady(2);
    AliyunSandboxBackend backend = backend(FAST);

    ProbeResult first = backend.startIfReady(backend.probe());
    ProbeResult second = backend.startIfReady(backend.probe());

    assertThat(first.ready()).as(first.message()).isTrue();
    assertThat(first.reason()).isEqualTo(SandboxProviderReason.BACKEND_REACHABLE);
    assertThat(first.message()).contains(AliyunSettings.DEFAULT_TEMPLATE).contains("READY");
    assertThat(second.ready()).isTrue();
    assertThat(fake.templateExists(AliyunSettings.DEFAULT_TEMPLATE)).isTrue();
    assertThat(fake.templateNetworkMode(AliyunSettings.DEFAULT_TEMPLATE)).isEqualTo("PRIVATE");
    assertThat(fake.count("CreateTemplate")).isEqualTo(1);
    assertThat(fake.count("ListTemplates")).isEqualTo(2);
    assertThat(fake.signatureRejections()).isZero();
  }

  @Test
  void anExistingConfiguredTemplateIsFoundNotRecreated() {
    fake.withTemplate("team-interpreter", "READY");
    AliyunSandboxBackend backend =
        backend(FAST, p -> p.getSpec().getAliyun().setTemplateName("team-interpreter"));

    ProbeResult probe = backend.startIfReady(backend.probe());

    assertThat(probe.ready()).as(probe.message()).isTrue();
    assertThat(fake.count("CreateTemplate")).isZero();
    assertThat(fake.templateExists(AliyunSettings.DEFAULT_TEMPLATE)).isFalse();
  }

  @Test
  void aTemplateStillCreatingKeepsTheProviderNotReadyUntilItIsReady() {
    fake.withTemplate("slow", "CREATING");
    AliyunSandboxBackend backend =
        backend(FAST, p -> p.getSpec().getAliyun().setTemplateName("slow"));
    ProbeResult probe = backend.startIfReady(backend.probe());
    assertThat(probe.ready()).isFalse();
    assertThat(probe.reason()).isEqualTo(SandboxProviderReason.PROBING);
    assertThat(probe.message()).contains("slow is CREATING");
  }

  @Test
  void anUnknownConfiguredTemplateIsTemplateNotFound() {
    AliyunSandboxBackend backend =
        backend(FAST, p -> p.getSpec().getAliyun().setTemplateName("no-such-template"));
    ProbeResult probe = backend.startIfReady(backend.probe());
    assertThat(probe.ready()).isFalse();
    assertThat(probe.reason()).isEqualTo(SandboxProviderReason.TEMPLATE_NOT_FOUND);
    assertThat(probe.message())
        .contains("no-such-template")
        .contains("does not exist in region cn-hangzhou");
    assertThat(fake.count("CreateTemplate")).isZero();
  }

  @Test
  void aWrongSecretIsCredentialsRejectedAndNeverShown() {
    String wrongSecret = "not-the-right-secret-value";
    AliyunSandboxBackend backend =
        backend(FAST, p -> {}, aliyunCredentials(FakeAgentRunServer.ACCESS_KEY_ID, wrongSecret));
    ProbeResult probe = backend.startIfReady(backend.probe());
    assertThat(probe.ready()).isFalse();
    assertThat(probe.reason()).isEqualTo(SandboxProviderReason.CREDENTIALS_REJECTED);
    assertThat(probe.message())
        .contains("SignatureDoesNotMatch")
        .contains("request id fake-")
        .contains(ALIYUN_SECRET)
        .doesNotContain(wrongSecret)
        .doesNotContain(FakeAgentRunServer.ACCESS_KEY_ID);
    assertThat(fake.signatureRejections()).isPositive();
  }

  @Test
  void anUnknownAccessKeyIsCredentialsRejected() {
    AliyunSandboxBackend backend =
        backend(
            FAST,
            p -> {},
            aliyunCredentials("LTAI5tUnknownKey", FakeAgentRunServer.ACCESS_KEY_SECRET));
    ProbeResult probe = backend.startIfReady(backend.probe());
    assertThat(probe.reason()).isEqualTo(SandboxProviderReason.CREDENTIALS_REJECTED);
    assertThat(probe.message())
        .contains("InvalidAccessKeyId.NotFound")
        .doesNotContain("LTAI5tUnknownKey");
  }

  @Test
  void anEndpointThatDoesNotAnswerIsBackendUnreachable() {
    AliyunSandboxBackend backend =
        backend(FAST, p -> p.getSpec().getAliyun().setControlEndpoint("http://127.0.0.1:1"));
    ProbeResult probe = backend.startIfReady(backend.probe());
    assertThat(probe.reason()).isEqualTo(SandboxProviderReason.BACKEND_UNREACHABLE);
    assertThat(probe.message()).contains("did not answer");
  }

  @Test
  void serverErrorsOnTheProbeAreRetriedThenReportedWithTheRequestId() {
    fake.failNext("ListTemplates", 1, 503, "ServiceUnavailable", "try again");
    AliyunSandboxBackend backend = backend(FAST);
    assertThat(backend.startIfReady(backend.probe()).ready()).isTrue();

    fake.failNext("ListTemplates", 10, 500, "InternalError", "the service broke");
    ProbeResult probe = backend.startIfReady(backend.probe());
    assertThat(probe.reason()).isEqualTo(SandboxProviderReason.BACKEND_UNREACHABLE);
    assertThat(probe.message())
        .contains("HTTP 500 InternalError: the service broke")
        .contains("request id fake-");
  }

  // ---- executions ----

  @Test
  void runsPythonWithArgumentsAsDataAndDeletesTheSandbox() throws Exception {
    AliyunSandboxBackend backend = readyBackend();
    String code =
        "def main(name, flag, nothing, nested):\n    print('hi ' + name)\n"
            + "    return {'flag': flag, 'nothing': nothing, 'nested': nested, 'len': len(name)}\n";
    String arguments =
        "{\"name\":\"Wörld ✓ 世界\",\"flag\":true,\"nothing\":null,\"nested\":{\"a\":[1,2,{\"b\":false}]}}";
    List<String> events = new CopyOnWriteArrayList<>();
    RunControl control =
        new RunControl(
            id ->
                events.add(
                    "assigned " + id + " after " + fake.count("CreateSandbox") + " creates"));

    ExecutionOutcome outcome = run(backend, Language.PYTHON, code, arguments, UNTIMED, control);

    assertThat(outcome.termination()).as(outcome.detail()).isEqualTo(Termination.EXITED);
    assertThat(outcome.exitCode()).isZero();
    assertThat(outcome.stdout().text()).isEqualTo("hi Wörld ✓ 世界\n");
    assertThat(JSON.writeValueAsString(outcome.report().result()))
        .isEqualTo(
            "{\"flag\":true,\"nothing\":null,\"nested\":{\"a\":[1,2,{\"b\":false}]},\"len\":10}");
    String sandboxId = outcome.sandboxId();
    assertThat(sandboxId).startsWith("sbx-").endsWith(lastUid);
    assertThat(events).containsExactly("assigned " + sandboxId + " after 0 creates");
    assertThat(fake.createdSandboxes()).containsExactly(sandboxId);
    assertThat(fake.deletedSandboxes()).containsExactly(sandboxId);
    // Code and arguments travel in files, never in the command.
    FakeAgentRunServer.Recorded command =
        fake.requests().stream()
            .filter(r -> "RunCommand".equals(r.action()))
            .findFirst()
            .orElseThrow();
    assertThat(command.body())
        .doesNotContain("print('hi")
        .doesNotContain("flag")
        .doesNotContain("\\u4e16");
    assertThat(
            fake.requests().stream()
                .filter(r -> "CreateSandbox".equals(r.action()))
                .findFirst()
                .orElseThrow()
                .body())
        .contains("\"sandboxIdleTimeoutSeconds\":300")
        .contains("\"sandboxId\":\"" + sandboxId + "\"");
    assertThat(fake.signatureRejections()).isZero();
  }

  @Test
  void artifactRecordsSurviveTheCommandApiAndItsKeptTailInBothLanguages() {
    AliyunSandboxBackend backend = readyBackend();
    for (Language language : Language.values()) {
      dev.sandboxes.operator.testing.ArtifactScenarios.assertMebibyteAndSymlink(
          run(
              backend,
              language,
              dev.sandboxes.operator.testing.ArtifactScenarios.mebibyteAndSymlink(language),
              "{}",
              UNTIMED,
              RunControl.detached()));
      dev.sandboxes.operator.testing.ArtifactScenarios.assertMoreFilesThanTheLimit(
          run(
              backend,
              language,
              dev.sandboxes.operator.testing.ArtifactScenarios.moreFilesThanTheLimit(language),
              "{}",
              UNTIMED,
              RunControl.detached()));
    }
    // A large result and 1 MiB of artifacts together: the artifacts never push the result out of
    // the tail.
    ExecutionOutcome both =
        run(
            backend,
            Language.PYTHON,
            "import os\ndef main():\n    open(os.environ['SANDBOX_OUTPUT_DIR'] + '/m.bin', 'wb').write(os.urandom(1048576))\n"
                + "    print('x' * 100000)\n    return 'r' * 200000\n",
            "{}",
            UNTIMED,
            RunControl.detached());
    assertThat(both.exitCode()).as(both.stderr().text()).isZero();
    assertThat(both.report().against(0).result().asText()).hasSize(200000);
    assertThat(both.report().against(0).artifacts().files())
        .singleElement()
        .satisfies(file -> assertThat(file.sizeBytes()).isEqualTo(1048576));
  }

  @Test
  void runsJavaScriptAndAwaitsAnAsyncMain() {
    AliyunSandboxBackend backend = readyBackend();
    String code =
        "async function main(args) { console.log('js', args.n); return { doubled: args.n * 2, ok: true }; }\n"
            + "module.exports = { main };\n";

    ExecutionOutcome outcome =
        run(backend, Language.JAVASCRIPT, code, "{\"n\":21}", UNTIMED, RunControl.detached());

    assertThat(outcome.termination()).as(outcome.detail()).isEqualTo(Termination.EXITED);
    assertThat(outcome.exitCode()).isZero();
    assertThat(outcome.stdout().text()).isEqualTo("js 21\n");
    assertThat(outcome.report().result().toString()).isEqualTo("{\"doubled\":42,\"ok\":true}");
  }

  @Test
  void theExitCodeDecidesNotStderr() {
    AliyunSandboxBackend backend = readyBackend();
    ExecutionOutcome warned =
        run(
            backend,
            Language.PYTHON,
            "import sys\ndef main():\n    sys.stderr.write('just a warning\\n')\n    return 1\n",
            "{}",
            UNTIMED,
            RunControl.detached());
    ExecutionOutcome raised =
        run(
            backend,
            Language.PYTHON,
            "def main():\n    raise ValueError('bad input')\n",
            "{}",
            UNTIMED,
            RunControl.detached());

    assertThat(warned.exitCode()).isZero();
    assertThat(warned.stderr().text()).isEqualTo("just a warning\n");
    assertThat(raised.termination()).isEqualTo(Termination.EXITED);
    assertThat(raised.exitCode()).isEqualTo(1);
    assertThat(raised.stderr().text()).contains("ValueError: bad input");
    assertThat(raised.report().message()).contains("bad input");
  }

  @Test
  void aLargeNonAsciiResultSurvivesTheTextApi() {
    // The runner frames its records in 4 KiB pieces that may split a character; the base64 pipe
    // keeps the bytes intact although the service returns stdout as JSON text.
    AliyunSandboxBackend backend = readyBackend();
    ExecutionOutcome outcome =
        run(
            backend,
            Language.PYTHON,
            "def main():\n    return {'text': '汉字✓' * 3000}\n",
            "{}",
            UNTIMED,
            RunControl.detached());
    assertThat(outcome.exitCode()).as(outcome.detail()).isZero();
    assertThat(outcome.report().resultProblem()).isNull();
    assertThat(outcome.report().result().get("text").asText()).isEqualTo("汉字✓".repeat(3000));
  }

  @Test
  void theUnwrappedCommandAnswerShapeWorksToo() {
    fake.wrapCommandResult(false);
    AliyunSandboxBackend backend = readyBackend();
    ExecutionOutcome outcome =
        run(
            backend,
            Language.PYTHON,
            "def main():\n    return 7\n",
            "{}",
            UNTIMED,
            RunControl.detached());
    assertThat(outcome.exitCode()).isZero();
    assertThat(outcome.report().result().asInt()).isEqualTo(7);
  }

  @Test
  void aSandboxThatStartsSlowlyIsAwaited() {
    fake.sandboxPollsUntilReady(3).healthChecksUntilOk(2);
    AliyunSandboxBackend backend = readyBackend();
    ExecutionOutcome outcome =
        run(
            backend,
            Language.PYTHON,
            "def main():\n    return 1\n",
            "{}",
            UNTIMED,
            RunControl.detached());
    assertThat(outcome.exitCode()).as(outcome.detail()).isZero();
    assertThat(fake.count("GetSandbox")).isGreaterThanOrEqualTo(3);
    assertThat(fake.count("SandboxHealth")).isGreaterThanOrEqualTo(3);
  }

  @Test
  void theTimeLimitKillsTheRunAndDeletesTheSandbox() {
    AliyunSandboxBackend backend = readyBackend();
    long started = System.nanoTime();
    ExecutionOutcome outcome =
        run(
            backend,
            Language.PYTHON,
            "import time\ndef main():\n    time.sleep(25)\n",
            "{}",
            2,
            RunControl.detached());
    long millis = (System.nanoTime() - started) / 1_000_000;

    assertThat(outcome.termination()).isEqualTo(Termination.TIMED_OUT);
    assertThat(Duration.between(outcome.startTime(), outcome.completionTime()).toMillis())
        .isBetween(1900L, 3000L);
    assertThat(millis).isLessThan(8000);
    System.out.printf(
        "Aliyun timeout: limit 2000 ms, TimedOut after %d ms of code, execute() returned after %d ms%n",
        Duration.between(outcome.startTime(), outcome.completionTime()).toMillis(), millis);
    assertThat(fake.deletedSandboxes()).containsExactly(outcome.sandboxId());
  }

  @Test
  void cancellingARunDeletesItsSandboxAtOnce() throws Exception {
    AliyunSandboxBackend backend = readyBackend();
    RunControl control = new RunControl(id -> {});
    CompletableFuture<ExecutionOutcome> outcome =
        CompletableFuture.supplyAsync(
            () ->
                run(
                    backend,
                    Language.PYTHON,
                    "import time\ndef main():\n    time.sleep(25)\n",
                    "{}",
                    UNTIMED,
                    control));
    await().until(() -> fake.count("RunCommand") == 1); // the command is in flight: the fake has it
    long cancelled = System.nanoTime();
    control.cancel();

    ExecutionOutcome result = outcome.get(10, TimeUnit.SECONDS);
    assertThat((System.nanoTime() - cancelled) / 1_000_000).isLessThan(3000);
    assertThat(result.termination()).isEqualTo(Termination.CANCELLED);
    assertThat(fake.liveSandboxes()).isEmpty();
  }

  @Test
  void cancellingWhileTheSandboxIsCreatedDeletesItToo() throws Exception {
    fake.sandboxPollsUntilReady(1000);
    AliyunSandboxBackend backend = readyBackend();
    RunControl control = new RunControl(id -> {});
    CompletableFuture<ExecutionOutcome> outcome =
        CompletableFuture.supplyAsync(
            () ->
                run(
                    backend,
                    Language.PYTHON,
                    "def main():\n    return 1\n",
                    "{}",
                    UNTIMED,
                    control));
    await().until(() -> fake.count("GetSandbox") >= 2);
    control.cancel();
    assertThat(outcome.get(10, TimeUnit.SECONDS).termination()).isEqualTo(Termination.CANCELLED);
    assertThat(fake.count("RunCommand")).isZero();
  }

  @Test
  void throttlingHoldsNewLeasesBackAndTheRunRetriesAfterTheHint() throws Exception {
    AliyunSandboxBackend backend = readyBackend();
    wakeUps.set(0);
    // Two refusals of 1.5 s each: a window of 3 s in which leases are held back, wide enough to be
    // seen by a test thread that a loaded machine schedules late.
    fake.throttleNext("CreateSandbox", 2, 1500);

    CompletableFuture<ExecutionOutcome> outcome =
        CompletableFuture.supplyAsync(
            () ->
                run(
                    backend,
                    Language.PYTHON,
                    "def main():\n    return 'made it'\n",
                    "{}",
                    UNTIMED,
                    RunControl.detached()));
    await().until(() -> fake.count("CreateSandbox") >= 1);
    await()
        .atMost(Duration.ofSeconds(3))
        .until(() -> backend.tryAcquire(Language.PYTHON).isEmpty());

    ExecutionOutcome result = outcome.get(2L * UNTIMED, TimeUnit.SECONDS);
    assertThat(result.exitCode()).as(result.detail()).isZero();
    assertThat(result.report().result().asText()).isEqualTo("made it");
    assertThat(fake.count("CreateSandbox")).isEqualTo(3);
    await().untilAsserted(() -> assertThat(wakeUps.get()).isPositive());
    assertThat(backend.tryAcquire(Language.PYTHON)).isPresent();
  }

  @Test
  void aQuotaThatStaysExhaustedFailsTheRunWithTheRequestId() {
    AgentRunTimings shortQuotaWait =
        new AgentRunTimings(
            FAST.callTimeout(),
            FAST.attempts(),
            FAST.retryBackoff(),
            Duration.ofMillis(1500),
            FAST.firstThrottleBackoff(),
            FAST.maxThrottleBackoff(),
            FAST.provisionTimeout(),
            FAST.pollInterval(),
            FAST.templateWait(),
            300,
            FAST.maintenanceInterval(),
            FAST.leftoverAge(),
            FAST.maxResponseBytes());
    AliyunSandboxBackend backend = backend(shortQuotaWait);
    assertThat(backend.startIfReady(backend.probe()).ready()).isTrue();
    fake.maxSandboxes(0, 400);

    ExecutionOutcome outcome =
        run(
            backend,
            Language.PYTHON,
            "def main():\n    return 1\n",
            "{}",
            UNTIMED,
            RunControl.detached());

    assertThat(outcome.termination()).isEqualTo(Termination.SANDBOX_FAILED);
    assertThat(outcome.detail())
        .contains("refused to create a sandbox")
        .contains("quota")
        .contains("HTTP 429 SandboxQuotaExceeded")
        .contains("request id fake-");
    assertThat(fake.count("CreateSandbox")).isGreaterThanOrEqualTo(3);
    assertThat(fake.count("RunCommand")).isZero();
  }

  @Test
  void transientServerErrorsAreRetried() {
    AliyunSandboxBackend backend = readyBackend();
    fake.failNext("CreateSandbox", 2, 503, "ServiceUnavailable", "busy");
    fake.failNext("WriteFile", 1, 502, "BadGateway", "upstream");
    ExecutionOutcome outcome =
        run(
            backend,
            Language.PYTHON,
            "def main():\n    return 1\n",
            "{}",
            UNTIMED,
            RunControl.detached());
    assertThat(outcome.exitCode()).as(outcome.detail()).isZero();
    assertThat(fake.count("CreateSandbox")).isEqualTo(3);
  }

  @Test
  void persistentServerErrorsAreSandboxFailedWithTheRequestId() {
    AliyunSandboxBackend backend = readyBackend();
    fake.failNext("CreateSandbox", 100, 500, "InternalError", "the control plane broke");
    ExecutionOutcome outcome =
        run(
            backend,
            Language.PYTHON,
            "def main():\n    return 1\n",
            "{}",
            UNTIMED,
            RunControl.detached());
    assertThat(outcome.termination()).isEqualTo(Termination.SANDBOX_FAILED);
    assertThat(outcome.detail())
        .contains("AgentRun CreateSandbox answered HTTP 500 InternalError: the control plane broke")
        .containsPattern("request id fake-\\d+");
    assertThat(fake.count("CreateSandbox")).isEqualTo(FAST.attempts());
    // The answer is unknown, so the chosen id was looked up once before giving up.
    assertThat(fake.count("GetSandbox")).isEqualTo(1);
  }

  @Test
  void aFailedCommandIsNeverSentTwice() {
    AliyunSandboxBackend backend = readyBackend();
    fake.failNext("RunCommand", 1, 502, "BadGateway", "lost the sandbox connection");
    ExecutionOutcome outcome =
        run(
            backend,
            Language.PYTHON,
            "def main():\n    return 1\n",
            "{}",
            UNTIMED,
            RunControl.detached());
    assertThat(outcome.termination()).isEqualTo(Termination.SANDBOX_FAILED);
    assertThat(outcome.detail())
        .contains("RunCommand answered HTTP 502")
        .contains("request id fake-");
    assertThat(fake.count("RunCommand")).isEqualTo(1);
  }

  @Test
  void aSandboxVanishingMidRunIsSandboxFailed() {
    AliyunSandboxBackend backend = readyBackend();
    fake.vanishDuringNextCommand();
    ExecutionOutcome outcome =
        run(
            backend,
            Language.PYTHON,
            "import time\ndef main():\n    time.sleep(5)\n",
            "{}",
            UNTIMED,
            RunControl.detached());
    assertThat(outcome.termination()).isEqualTo(Termination.SANDBOX_FAILED);
    assertThat(outcome.detail())
        .contains("vanished during the execution")
        .contains("SandboxNotFound")
        .contains("request id fake-");
  }

  @Test
  void anUnknownTemplateAtRunTimeIsSandboxFailed() {
    AliyunSandboxBackend backend =
        backend(FAST, p -> p.getSpec().getAliyun().setTemplateName("deleted-meanwhile"));
    ExecutionOutcome outcome =
        run(
            backend,
            Language.PYTHON,
            "def main():\n    return 1\n",
            "{}",
            UNTIMED,
            RunControl.detached());
    assertThat(outcome.termination()).isEqualTo(Termination.SANDBOX_FAILED);
    assertThat(outcome.detail())
        .contains("cannot create a sandbox from template deleted-meanwhile")
        .contains("TemplateNotFound");
  }

  @Test
  void aCreateWhoseAnswersAreLostAdoptsTheSandboxItMadeInsteadOfASecondOne() {
    AliyunSandboxBackend backend = readyBackend();
    // Every answer arrives after the call timeout (3 s): the first attempt creates the sandbox,
    // the retries find the id taken, and the lookup by the chosen id finds the execution's own.
    // Far beyond the timeout, so that a timer running late on a loaded machine still fires first.
    fake.delay("CreateSandbox", Duration.ofSeconds(10));
    ExecutionOutcome outcome =
        run(
            backend,
            Language.PYTHON,
            "def main():\n    return 1\n",
            "{}",
            UNTIMED,
            RunControl.detached());
    assertThat(outcome.exitCode()).as(outcome.detail()).isZero();
    assertThat(fake.count("CreateSandbox")).isEqualTo(FAST.attempts());
    assertThat(fake.createdSandboxes()).containsExactly(outcome.sandboxId());
  }

  @Test
  void aDataPlaneThatRejectsTheSignatureIsSandboxFailed() {
    // The control plane ignores the region; the data plane's signature scope includes it.
    AliyunSandboxBackend backend =
        backend(FAST, p -> p.getSpec().getAliyun().setRegion("cn-beijing"));
    assertThat(backend.startIfReady(backend.probe()).ready()).isTrue();
    ExecutionOutcome outcome =
        run(
            backend,
            Language.PYTHON,
            "def main():\n    return 1\n",
            "{}",
            UNTIMED,
            RunControl.detached());
    assertThat(outcome.termination()).isEqualTo(Termination.SANDBOX_FAILED);
    assertThat(outcome.detail()).contains("HTTP 403 SignatureDoesNotMatch");
  }

  @Test
  void twentyExecutionsAtOnceEachGetTheirOwnSandbox() throws Exception {
    AliyunSandboxBackend backend = readyBackend();
    ExecutorService pool = Executors.newFixedThreadPool(20);
    try {
      List<CompletableFuture<ExecutionOutcome>> runs = new ArrayList<>();
      long started = System.nanoTime();
      for (int i = 0; i < 20; i++) {
        int n = i;
        runs.add(
            CompletableFuture.supplyAsync(
                () ->
                    run(
                        backend,
                        Language.PYTHON,
                        "import time\ndef main(n):\n    time.sleep(1)\n    return n * n\n",
                        "{\"n\":" + n + "}",
                        UNTIMED,
                        RunControl.detached()),
                pool));
      }
      List<String> ids = new ArrayList<>();
      for (int i = 0; i < 20; i++) {
        ExecutionOutcome outcome = runs.get(i).get(4L * UNTIMED, TimeUnit.SECONDS);
        assertThat(outcome.exitCode()).as(outcome.detail()).isZero();
        assertThat(outcome.report().result().asInt()).isEqualTo(i * i);
        ids.add(outcome.sandboxId());
      }
      long millis = (System.nanoTime() - started) / 1_000_000;
      assertThat(ids).doesNotHaveDuplicates();
      assertThat(fake.createdSandboxes()).containsExactlyInAnyOrderElementsOf(ids);
      assertThat(fake.deletedSandboxes()).containsExactlyInAnyOrderElementsOf(ids);
      assertThat(fake.maxConcurrentCommands()).isGreaterThanOrEqualTo(10);
      System.out.printf(
          "20 concurrent Aliyun executions (1 s of code each) took %d ms; at most %d commands at once%n",
          millis, fake.maxConcurrentCommands());
    } finally {
      pool.shutdownNow();
    }
  }

  // ---- as the real service behaves (issue 14) ----

  @Test
  void theSandboxLifecycleRunsOnTheDataPlaneAsTheSdkDoesIt() {
    AliyunSandboxBackend backend = readyBackend();
    ExecutionOutcome outcome =
        run(
            backend,
            Language.PYTHON,
            "def main():\n    return 1\n",
            "{}",
            UNTIMED,
            RunControl.detached());
    assertThat(outcome.exitCode()).as(outcome.detail()).isZero();
    assertThat(fake.requests())
        .filteredOn(
            r -> List.of("CreateSandbox", "GetSandbox", "DeleteSandbox").contains(r.action()))
        .isNotEmpty()
        .allSatisfy(r -> assertThat(r.plane()).isEqualTo("data"));
    assertThat(fake.requests())
        .filteredOn(r -> "CreateSandbox".equals(r.action()))
        .singleElement()
        .satisfies(r -> assertThat(r.path()).isEqualTo("/sandboxes"));
  }

  @Test
  void theGatewaysTimeoutAt30SecondsIsTimedOutNotSandboxFailed() {
    fake.gatewayTimeout(
        Duration.ofMillis(1500)); // the real gateway: 30 s, longer than any allowed timeoutSeconds
    AliyunSandboxBackend backend = readyBackend();
    ExecutionOutcome outcome =
        run(
            backend,
            Language.PYTHON,
            "import time\ndef main():\n    time.sleep(20)\n",
            "{}",
            UNTIMED,
            RunControl.detached());
    assertThat(outcome.termination()).as(outcome.detail()).isEqualTo(Termination.TIMED_OUT);
    assertThat(outcome.detail()).contains("30-second limit").contains("HTTP 504");
    assertThat(Duration.between(outcome.startTime(), outcome.completionTime()).toMillis())
        .isBetween(1400L, 5000L);
    assertThat(fake.liveSandboxes()).isEmpty();
  }

  @Test
  void throttledHealthAndStatusPollsBackOffHoldNewLeasesAndTheRunSucceeds() throws Exception {
    fake.sandboxPollsUntilReady(2);
    AliyunSandboxBackend backend = readyBackend();
    fake.throttleNext("SandboxHealth", 3, 300).throttleNext("GetSandbox", 2, 300);
    CompletableFuture<ExecutionOutcome> outcome =
        CompletableFuture.supplyAsync(
            () ->
                run(
                    backend,
                    Language.PYTHON,
                    "def main():\n    return 'through'\n",
                    "{}",
                    UNTIMED,
                    RunControl.detached()));
    await().until(() -> backend.tryAcquire(Language.PYTHON).isEmpty());
    ExecutionOutcome result = outcome.get(20, TimeUnit.SECONDS);
    assertThat(result.exitCode()).as(result.detail()).isZero();
    assertThat(result.report().result().asText()).isEqualTo("through");
    assertThat(fake.count("RunCommand")).isEqualTo(1);
  }

  @Test
  void healthErrorsAndStatusesOtherThanOkMeanNotReadyYetAsInTheSdk() {
    AliyunSandboxBackend backend = readyBackend();
    fake.healthChecksUntilOk(2)
        .failNext("SandboxHealth", 1, 403, "Forbidden", "gateway not ready")
        .failNext("SandboxHealth", 1, 400, "ERR_BAD_REQUEST", "container starting")
        .failNext("SandboxHealth", 1, 200, "FAILED", "health check failed");
    ExecutionOutcome outcome =
        run(
            backend,
            Language.PYTHON,
            "def main():\n    return 2\n",
            "{}",
            UNTIMED,
            RunControl.detached());
    assertThat(outcome.exitCode()).as(outcome.detail()).isZero();
    assertThat(fake.count("SandboxHealth")).isGreaterThanOrEqualTo(6);
  }

  @Test
  void aSandboxThatNeverGetsHealthyFailsAfterTheWaitWithTheLastAnswer() {
    fake.healthChecksUntilOk(1_000_000);
    AliyunSandboxBackend backend = readyBackend();
    ExecutionOutcome outcome =
        run(
            backend,
            Language.PYTHON,
            "def main():\n    return 2\n",
            "{}",
            UNTIMED,
            RunControl.detached());
    assertThat(outcome.termination()).isEqualTo(Termination.SANDBOX_FAILED);
    assertThat(outcome.detail())
        .contains("did not pass its health check within 5s")
        .contains("status starting");
  }

  @Test
  void htmlGatewayErrorsAreRetriedOnIdempotentCallsAndNeverOnTheCommand() {
    AliyunSandboxBackend backend = readyBackend();
    fake.gatewayErrorNext("CreateSandbox", 1, 502)
        .gatewayErrorNext("WriteFile", 1, 503)
        .gatewayErrorNext("DeleteSandbox", 1, 502);
    ExecutionOutcome ok =
        run(
            backend,
            Language.PYTHON,
            "def main():\n    return 3\n",
            "{}",
            UNTIMED,
            RunControl.detached());
    assertThat(ok.exitCode()).as(ok.detail()).isZero();
    assertThat(fake.deletedSandboxes()).contains(ok.sandboxId());

    fake.gatewayErrorNext("RunCommand", 1, 502);
    ExecutionOutcome failed =
        run(
            backend,
            Language.PYTHON,
            "def main():\n    return 3\n",
            "{}",
            UNTIMED,
            RunControl.detached());
    assertThat(failed.termination()).isEqualTo(Termination.SANDBOX_FAILED);
    assertThat(failed.detail())
        .contains("RunCommand answered HTTP 502")
        .contains("502 Bad Gateway");
    assertThat(fake.count("RunCommand")).isEqualTo(2);
  }

  @Test
  void anIdFormatTheServiceRefusesMakesItChooseAndTheIdIsStillRecordedBeforeTheCode() {
    fake.sandboxIdFormat("[0-9a-f]{20}"); // not the operator's format
    AliyunSandboxBackend backend = readyBackend();
    List<String> assigned = new CopyOnWriteArrayList<>();
    RunControl control =
        new RunControl(id -> assigned.add(id + " commands=" + fake.count("RunCommand")));

    ExecutionOutcome first =
        run(backend, Language.PYTHON, "def main():\n    return 4\n", "{}", UNTIMED, control);
    ExecutionOutcome second =
        run(
            backend,
            Language.PYTHON,
            "def main():\n    return 5\n",
            "{}",
            UNTIMED,
            RunControl.detached());

    assertThat(first.exitCode()).as(first.detail()).isZero();
    assertThat(second.report().result().asInt()).isEqualTo(5);
    assertThat(first.sandboxId()).doesNotStartWith("sbx-");
    // The chosen id was recorded first (before CreateSandbox), then the service's, before any
    // command.
    assertThat(assigned).hasSize(2).last().isEqualTo(first.sandboxId() + " commands=0");
    List<FakeAgentRunServer.Recorded> creates =
        fake.requests().stream().filter(r -> "CreateSandbox".equals(r.action())).toList();
    assertThat(creates).hasSize(3);
    assertThat(creates.get(0).body()).contains("\"sandboxId\"");
    assertThat(creates.get(2).body()).doesNotContain("\"sandboxId\"");
    assertThat(fake.createdSandboxes())
        .containsExactlyInAnyOrder(first.sandboxId(), second.sandboxId());
  }

  @Test
  void anUndocumentedAlreadyExistsAnswerIsNotTrustedTheIdIsLookedUp() {
    fake.duplicateIdAnswer(400, "InvalidParameter", "duplicated sandbox id");
    AliyunSandboxBackend backend = readyBackend();
    fake.delay(
        "CreateSandbox",
        Duration.ofSeconds(10)); // the answers are lost (far beyond the 3 s timeout)
    ExecutionOutcome outcome =
        run(
            backend,
            Language.PYTHON,
            "def main():\n    return 6\n",
            "{}",
            UNTIMED,
            RunControl.detached());
    fake.delay("CreateSandbox", Duration.ZERO);
    assertThat(outcome.exitCode()).as(outcome.detail()).isZero();
    assertThat(outcome.sandboxId()).startsWith("sbx-");
    assertThat(fake.createdSandboxes()).containsExactly(outcome.sandboxId());
  }

  @Test
  void deletedSandboxesLingerAsTerminatedAndAreLeftAlone() {
    AliyunSandboxBackend backend = readyBackend();
    ExecutionOutcome outcome =
        run(
            backend,
            Language.PYTHON,
            "def main():\n    return 7\n",
            "{}",
            UNTIMED,
            RunControl.detached());
    long deletes = fake.count("DeleteSandbox");
    backend.maintain();
    assertThat(fake.count("DeleteSandbox")).isEqualTo(deletes);
    // A second delete gets the data plane's "sandbox not found" at HTTP 200: already gone, not a
    // failure.
    backend.discard("whatever", outcome.sandboxId());
    await().until(() -> fake.count("DeleteSandbox") == deletes + 1);
    assertThat(backend.pendingDeletes()).isEmpty();
  }

  @Test
  void aThrottledListingSkipsOneSweepRound() {
    AliyunSandboxBackend backend = backend(FAST); // not probed: no background maintenance round
    String old = backend.ids().forExecution(UUID.randomUUID().toString());
    fake.addLeftover(
        old, AliyunSettings.DEFAULT_TEMPLATE, Instant.now().minus(Duration.ofHours(1)));
    fake.throttleNext("ListSandboxes", 1, 1000);
    backend.maintain();
    assertThat(fake.liveSandboxes()).containsExactly(old);
    backend.maintain();
    assertThat(fake.liveSandboxes()).isEmpty();
  }

  @Test
  void outputIsCutAndCountedInsideTheSandboxSoTheAnswerStaysSmall() {
    AliyunSandboxBackend backend = readyBackend();
    String code =
        "import sys\ndef main():\n"
            + "    for _ in range(320):\n        sys.stdout.write('o' * 65536)\n"
            + "    for _ in range(80):\n        sys.stderr.write('e' * 65536)\n"
            + "    return {'survived': '✓' * 20000}\n";
    ExecutionOutcome outcome =
        run(backend, Language.PYTHON, code, "{}", UNTIMED, RunControl.detached());

    assertThat(outcome.exitCode()).as(outcome.detail()).isZero();
    assertThat(outcome.report().result().get("survived").asText()).isEqualTo("✓".repeat(20000));
    assertThat(outcome.stdout().totalBytes()).isEqualTo(320L * 65536);
    assertThat(outcome.stdout().truncated()).isTrue();
    assertThat(outcome.stdout().text()).hasSize(65536).matches("o+");
    assertThat(outcome.stderr().totalBytes()).isEqualTo(80L * 65536);
    assertThat(outcome.stderr().text()).hasSize(65536);
    long answer = fake.largestAnswerBytes("RunCommand");
    System.out.printf(
        "Aliyun: 20 MiB of stdout and 5 MiB of stderr came back as a %d-byte answer%n", answer);
    // The kept tail has room for the runner's records, artifacts up to the provider's limits (1 MiB
    // by default) included, so a run that prints this much answers with that much of its output.
    assertThat(answer)
        .isLessThan(AgentRunCommand.maxAnswerBytes(65536, ArtifactLimits.DEFAULT))
        .isLessThan(3L * 1024 * 1024);
  }

  @Test
  void theCodeFindsNoEnvelopeNonceOrExitCodeFileToTamperWith() throws Exception {
    AliyunSandboxBackend backend = readyBackend();
    // The code looks for the envelope in its directory and in every descriptor of its ancestors,
    // and starts a detached process that keeps writing 0 into an exit-code file; then it fails.
    String code =
        """
        import os, stat, subprocess, sys
        NEEDLE = None
        def holds_nonce(path):
            try:
                if not stat.S_ISREG(os.stat(path).st_mode):
                    return False  # pipes and FIFOs would block, or steal the runner's own output
                with open(path, 'rb') as f:
                    return NEEDLE in f.read(1 << 20)
            except OSError:
                return False
        def main(marker):
            # Only the envelope holds the marker (an argument): finding it means finding the nonce.
            global NEEDLE
            NEEDLE = marker.encode()
            found = [name for name in os.listdir('.') if holds_nonce(name)]
            pid = os.getppid()
            for _ in range(2):  # the command's shell and the one that started it: the sandbox's processes
                fds = os.listdir('/proc/%d/fd' % pid) if os.access('/proc/%d/fd' % pid, os.R_OK) else []
                found += ['/proc/%d/fd/%s' % (pid, fd) for fd in fds if holds_nonce('/proc/%d/fd/%s' % (pid, fd))]
                found += ['/proc/%d/%s' % (pid, part) for part in ('cmdline', 'environ')
                          if holds_nonce('/proc/%d/%s' % (pid, part))]
                pid = int(open('/proc/%d/stat' % pid).read().rsplit(')', 1)[1].split()[1])
            forger = 'import time\\nfor _ in range(400):\\n    open("exit-code", "w").write("0\\\\n")\\n    time.sleep(0.005)\\n'
            subprocess.Popen([sys.executable, '-c', forger], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
            print('found', found)
            raise SystemExit(3)
        """;
    ExecutionOutcome outcome =
        run(
            backend,
            Language.PYTHON,
            code,
            "{\"marker\":\"envelope-marker-" + UUID.randomUUID() + "\"}",
            10,
            RunControl.detached());
    assertThat(outcome.termination()).as(outcome.detail()).isEqualTo(Termination.EXITED);
    assertThat(outcome.stdout().text()).as(outcome.stderr().text()).isEqualTo("found []\n");
    assertThat(outcome.exitCode()).isEqualTo(3);
  }

  // ---- network (issue 11) ----

  @Test
  void egressDenyRefusesANamedTemplateThatIsNotPrivate() {
    fake.withTemplate("public-one", "READY", "PUBLIC")
        .withTemplate("both", "READY", "PUBLIC_AND_PRIVATE");
    ProbeResult publicOne =
        backend(FAST, p -> p.getSpec().getAliyun().setTemplateName("public-one")).probe();
    ProbeResult both = backend(FAST, p -> p.getSpec().getAliyun().setTemplateName("both")).probe();
    assertThat(publicOne.ready()).isFalse();
    assertThat(publicOne.reason()).isEqualTo(SandboxProviderReason.TEMPLATE_NOT_PRIVATE);
    assertThat(publicOne.message())
        .contains("public-one has networkMode PUBLIC")
        .contains("spec.aliyun.egress");
    assertThat(both.reason()).isEqualTo(SandboxProviderReason.TEMPLATE_NOT_PRIVATE);
  }

  @Test
  void egressInternetIsAnExplicitOptInToAPublicTemplate() {
    fake.withTemplate("public-one", "READY", "PUBLIC");
    AliyunSandboxBackend named =
        backend(
            FAST,
            p -> {
              p.getSpec().getAliyun().setTemplateName("public-one");
              p.getSpec().getAliyun().setEgress(dev.sandboxes.api.v1alpha1.AliyunEgress.INTERNET);
            });
    AliyunSandboxBackend byDefault =
        backend(
            FAST,
            p ->
                p.getSpec()
                    .getAliyun()
                    .setEgress(dev.sandboxes.api.v1alpha1.AliyunEgress.INTERNET));
    assertThat(named.startIfReady(named.probe()).ready()).isTrue();
    assertThat(byDefault.startIfReady(byDefault.probe()).ready()).isTrue();
    assertThat(fake.templateNetworkMode(AliyunSettings.DEFAULT_INTERNET_TEMPLATE))
        .isEqualTo("PUBLIC");
    assertThat(fake.templateExists(AliyunSettings.DEFAULT_TEMPLATE)).isFalse();
  }

  @Test
  void aServiceThatRefusesPrivateTemplatesWithoutAVpcIsReportedWithTheWayOut() {
    fake.privateNetworkNeedsVpc(true);
    ProbeResult probe = backend(FAST).probe();
    assertThat(probe.ready()).isFalse();
    assertThat(probe.reason()).isEqualTo(SandboxProviderReason.TEMPLATE_NOT_FOUND);
    assertThat(probe.message())
        .contains("vpcId is required")
        .contains("spec.aliyun.templateName")
        .contains("spec.aliyun.egress: Internet");
  }

  // ---- after a restart ----

  @Test
  void discardDeletesTheSandboxOfAnInterruptedExecution() {
    AliyunSandboxBackend backend = readyBackend();
    String uid = UUID.randomUUID().toString();
    String id = backend.ids().forExecution(uid);
    fake.addLeftover(id, AliyunSettings.DEFAULT_TEMPLATE, Instant.now());
    backend.discard(uid, null);
    await().until(() -> fake.liveSandboxes().isEmpty());

    String recorded = backend.ids().forExecution(UUID.randomUUID().toString());
    fake.addLeftover(recorded, AliyunSettings.DEFAULT_TEMPLATE, Instant.now());
    backend.discard("some-uid", recorded);
    await().until(() -> fake.liveSandboxes().isEmpty());
  }

  @Test
  void maintenanceSweepsOldLeftoversOfThisProviderOnly() {
    AliyunSandboxBackend backend = readyBackend();
    String old = backend.ids().forExecution(UUID.randomUUID().toString());
    String young = backend.ids().forExecution(UUID.randomUUID().toString());
    String foreign = "sbx-0123456789-" + UUID.randomUUID();
    fake.addLeftover(
        old, AliyunSettings.DEFAULT_TEMPLATE, Instant.now().minus(Duration.ofHours(1)));
    fake.addLeftover(young, AliyunSettings.DEFAULT_TEMPLATE, Instant.now());
    fake.addLeftover(
        foreign, AliyunSettings.DEFAULT_TEMPLATE, Instant.now().minus(Duration.ofHours(1)));

    backend.maintain();

    assertThat(fake.liveSandboxes()).containsExactlyInAnyOrder(young, foreign);
    backend.discard("x", young);
    backend.discard("y", foreign); // clean up for the after-test check
    await().until(() -> fake.liveSandboxes().isEmpty());
  }

  @Test
  void theProbeStartsMaintenanceThatRemovesLeftoversAtBackendStart() {
    AgentRunTimings fastMaintenance =
        new AgentRunTimings(
            FAST.callTimeout(),
            FAST.attempts(),
            FAST.retryBackoff(),
            FAST.quotaWait(),
            FAST.firstThrottleBackoff(),
            FAST.maxThrottleBackoff(),
            FAST.provisionTimeout(),
            FAST.pollInterval(),
            FAST.templateWait(),
            300,
            Duration.ofMillis(200),
            Duration.ofSeconds(1),
            FAST.maxResponseBytes());
    AliyunSandboxBackend backend = backend(fastMaintenance);
    String leftover = backend.ids().forExecution(UUID.randomUUID().toString());
    fake.addLeftover(
        leftover, AliyunSettings.DEFAULT_TEMPLATE, Instant.now().minus(Duration.ofMinutes(30)));
    assertThat(backend.startIfReady(backend.probe()).ready()).isTrue();
    await().until(() -> fake.liveSandboxes().isEmpty());
  }

  // ---- helpers ----

  private volatile String lastUid;

  /** How often the backends built here called their capacity listener. */
  private final AtomicInteger wakeUps = new AtomicInteger();

  private AliyunSandboxBackend readyBackend() {
    AliyunSandboxBackend backend = backend(FAST);
    ProbeResult probe = backend.startIfReady(backend.probe());
    assertThat(probe.ready()).as(probe.message()).isTrue();
    return backend;
  }

  private AliyunSandboxBackend backend(AgentRunTimings timings) {
    return backend(timings, p -> {});
  }

  private AliyunSandboxBackend backend(
      AgentRunTimings timings, Consumer<SandboxProvider> customize) {
    return backend(
        timings,
        customize,
        aliyunCredentials(FakeAgentRunServer.ACCESS_KEY_ID, FakeAgentRunServer.ACCESS_KEY_SECRET));
  }

  private AliyunSandboxBackend backend(
      AgentRunTimings timings,
      Consumer<SandboxProvider> customize,
      Map<String, String> credentials) {
    SandboxProvider provider = anAliyunProvider("team-a", "aliyun", fake);
    customize.accept(provider);
    ProviderSettings settings = ProviderSettings.of(provider, OperatorConfig.defaults());
    BackendContext context =
        new BackendContext(
                "uid-" + UUID.randomUUID(),
                settings,
                provider.getSpec(),
                Map.of(ALIYUN_SECRET, credentials),
                OperatorConfig.defaults(),
                null)
            .withListeners(wakeUps::incrementAndGet, ServiceCallListener.NONE);
    AliyunSandboxBackend backend = new AliyunSandboxBackend(context, timings, Clock.systemUTC());
    backends.add(backend);
    return backend;
  }

  private ExecutionOutcome run(
      AliyunSandboxBackend backend,
      Language language,
      String code,
      String arguments,
      int timeoutSeconds,
      RunControl control) {
    try {
      String uid = UUID.randomUUID().toString();
      lastUid = uid;
      ExecutionRequest request =
          new ExecutionRequest(
              "team-a",
              "cx-" + uid.substring(0, 8),
              uid,
              language,
              ExecutionMode.FUNCTION,
              "main",
              code,
              JSON.readTree(arguments),
              Duration.ofSeconds(timeoutSeconds),
              65536);
      SandboxLease lease =
          backend
              .tryAcquire(language)
              .orElseGet(
                  () -> {
                    await().until(() -> backend.tryAcquire(language).isPresent());
                    return backend.tryAcquire(language).orElseThrow();
                  });
      return backend.execute(lease, request, control);
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
  }
}
