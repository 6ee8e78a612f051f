package dev.sandboxes.operator.backend.e2b;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sandboxes.api.ApiConstants;
import dev.sandboxes.api.v1alpha1.ExecutionMode;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.RuntimeSpec;
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
import dev.sandboxes.operator.testing.FakeE2bServer;
import dev.sandboxes.operator.testing.FakeE2bServer.Scripted;
import dev.sandboxes.operator.testing.TestResources;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
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
 * The E2B backend against {@link FakeE2bServer}, which really runs the runner in local processes:
 * the happy paths, each error mapping, cleanup on every path, and concurrency.
 */
@Tag("unit")
class E2bSandboxBackendTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String SECRET = "e2b-credentials";

  /**
   * The time limit of runs whose subject is not the limit: generous, because on a machine that
   * other builds keep busy even a trivial Python program can take seconds to start.
   */
  private static final Duration UNTIMED = Duration.ofSeconds(120);

  /**
   * Short creation backoff, so that quota scenarios finish in seconds; the request timeout and the
   * quota wait are production's, as no test here is about them and a loaded machine needs them.
   */
  private static final E2bTimings FAST =
      new E2bTimings(
          Duration.ofSeconds(30),
          Duration.ofSeconds(30),
          Duration.ofMillis(200),
          Duration.ofSeconds(1),
          Duration.ofMinutes(10));

  private final String apiKey = FakeE2bServer.newApiKey();
  private FakeE2bServer fake;
  private final List<E2bSandboxBackend> backends = new ArrayList<>();
  private final ExecutorService async = Executors.newCachedThreadPool();

  @BeforeEach
  void startFake() throws Exception {
    fake = new FakeE2bServer(apiKey);
  }

  @AfterEach
  void nothingLeftBehind() {
    try {
      await()
          .untilAsserted(
              () -> {
                assertThat(fake.liveSandboxes()).as("sandboxes left in the fake").isEmpty();
                assertThat(fake.runningProcesses()).isZero();
              });
    } finally {
      backends.forEach(E2bSandboxBackend::close);
      async.shutdownNow();
      fake.close();
    }
  }

  // ---- happy paths ----

  @Test
  void artifactRecordsSurviveEnvdsProcessStreamInBothLanguages() {
    E2bSandboxBackend backend = backend();
    for (Language language : Language.values()) {
      dev.sandboxes.operator.testing.ArtifactScenarios.assertMebibyteAndSymlink(
          run(
              backend,
              request(
                  language,
                  dev.sandboxes.operator.testing.ArtifactScenarios.mebibyteAndSymlink(language),
                  "{}",
                  UNTIMED)));
      dev.sandboxes.operator.testing.ArtifactScenarios.assertMoreFilesThanTheLimit(
          run(
              backend,
              request(
                  language,
                  dev.sandboxes.operator.testing.ArtifactScenarios.moreFilesThanTheLimit(language),
                  "{}",
                  UNTIMED)));
    }
  }

  @Test
  void runsPythonAndReturnsTheResultWithArgumentsIntact() {
    E2bSandboxBackend backend = backend();
    ExecutionRequest request =
        request(
            Language.PYTHON,
            "import sys\ndef main(flag, nothing, nested, text):\n    print('hello from e2b')\n"
                + "    print('a warning', file=sys.stderr)\n    return {'flag': flag, 'nothing': nothing, 'nested': nested, 'text': text}\n",
            "{\"flag\":true,\"nothing\":null,\"nested\":{\"a\":[1,2,{\"b\":false}]},\"text\":\"grüße 🌍 \\\"quoted\\\" $(rm -rf /)\"}",
            UNTIMED);

    ExecutionOutcome outcome = run(backend, request);

    assertThat(outcome.termination()).isEqualTo(Termination.EXITED);
    assertThat(outcome.exitCode()).isZero();
    assertThat(outcome.stdout().text()).isEqualTo("hello from e2b\n");
    assertThat(outcome.stderr().text()).isEqualTo("a warning\n");
    assertThat(outcome.report().result()).isEqualTo(json(request.arguments().toString()));
    assertThat(outcome.sandboxId()).isNotBlank();
    assertThat(fake.killedSandboxes()).containsExactly(outcome.sandboxId());
  }

  @Test
  void createsTheSandboxFromTheRuntimeTemplateWithATimeoutJustAboveTheExecutionsAndOwnerMetadata() {
    fake.addTemplate("node-template");
    E2bSandboxBackend backend =
        backend(
            provider -> {
              RuntimeSpec python = new RuntimeSpec();
              python.setLanguage(Language.PYTHON);
              RuntimeSpec node = new RuntimeSpec();
              node.setLanguage(Language.JAVASCRIPT);
              node.setTemplate("node-template");
              provider.getSpec().setRuntimes(List.of(python, node));
            });
    ExecutionRequest js =
        request(
            Language.JAVASCRIPT,
            "module.exports = { main: async ({n}) => { console.log('from node'); return n * 2; } };",
            "{\"n\":21}",
            Duration.ofSeconds(12));

    ExecutionOutcome outcome = run(backend, js);

    assertThat(outcome.exitCode()).isZero();
    assertThat(outcome.report().result().asInt()).isEqualTo(42);
    assertThat(outcome.stdout().text()).isEqualTo("from node\n");
    JsonNode create = fake.createRequests().get(0);
    assertThat(create.path("templateID").asText()).isEqualTo("node-template");
    assertThat(create.path("timeout").asLong()).isEqualTo(12 + 30);
    assertThat(create.path("secure").asBoolean()).isTrue();
    assertThat(create.path("allow_internet_access").asBoolean(true)).isFalse();
    assertThat(create.path("metadata").path(ApiConstants.EXECUTION_UID_LABEL).asText())
        .isEqualTo(js.uid());
    assertThat(create.path("metadata").path(ApiConstants.PROVIDER_UID_LABEL).asText())
        .isEqualTo("provider-uid");
    assertThat(create.path("metadata").path(ApiConstants.PROVIDER_LABEL).asText())
        .isEqualTo("team-a/e2b");

    run(backend, request(Language.PYTHON, "def main():\n    return 1\n", "{}", UNTIMED));
    assertThat(fake.createRequests().get(1).path("templateID").asText())
        .isEqualTo(FakeE2bServer.DEFAULT_TEMPLATE);
  }

  @Test
  void userErrorsAreExitCodesNotSandboxFailures() {
    ExecutionOutcome outcome =
        run(
            backend(),
            request(
                Language.PYTHON,
                "def main():\n    raise ValueError('bad input')\n",
                "{}",
                UNTIMED));

    assertThat(outcome.termination()).isEqualTo(Termination.EXITED);
    assertThat(outcome.exitCode()).isEqualTo(1);
    assertThat(outcome.report().isError()).isTrue();
    assertThat(outcome.report().message()).contains("bad input");
    assertThat(outcome.stderr().text()).contains("ValueError: bad input");
  }

  @Test
  void theSandboxIdIsRecordedBeforeAnyCodeIsSent() {
    E2bSandboxBackend backend = backend();
    List<String> startsAtAssignment = new CopyOnWriteArrayList<>();
    RunControl control =
        new RunControl(id -> startsAtAssignment.add(id + " starts=" + fake.sandbox(id).starts()));

    ExecutionOutcome outcome =
        execute(
            backend,
            request(Language.PYTHON, "def main():\n    return 'x'\n", "{}", UNTIMED),
            control);

    assertThat(outcome.exitCode()).isZero();
    assertThat(startsAtAssignment).containsExactly(outcome.sandboxId() + " starts=0");
    assertThat(fake.journal())
        .containsSubsequence(
            "create " + outcome.sandboxId(),
            "start " + outcome.sandboxId(),
            "input " + outcome.sandboxId(),
            "kill " + outcome.sandboxId());
  }

  @Test
  void whenTheSandboxIdCannotBeRecordedTheCodeIsNeverSent() {
    E2bSandboxBackend backend = backend();
    RunControl control =
        new RunControl(
            id -> {
              throw new IllegalStateException("status write failed");
            });

    ExecutionOutcome outcome =
        execute(
            backend,
            request(Language.PYTHON, "def main():\n    return 1\n", "{}", UNTIMED),
            control);

    assertThat(outcome.termination()).isEqualTo(Termination.SANDBOX_FAILED);
    assertThat(outcome.detail()).contains("could not be recorded").contains("not sent");
    assertThat(fake.journal()).noneMatch(line -> line.startsWith("start "));
    assertThat(fake.killedSandboxes()).hasSize(1);
  }

  @Test
  void outputBeyondTheCapIsCountedNotKeptEvenWhenFramesSplitRecordsAndCharacters() {
    fake.slowStreams(
        7, Duration.ZERO); // 7-byte frames cut through UTF-8 characters and runner records
    ExecutionRequest request =
        new ExecutionRequest(
            "test",
            "big",
            UUID.randomUUID().toString(),
            Language.PYTHON,
            ExecutionMode.FUNCTION,
            "main",
            "import sys\ndef main():\n    sys.stdout.write('é' * 3000)\n    sys.stderr.write('x' * 5000)\n    return 'done'\n",
            JSON.createObjectNode(),
            UNTIMED,
            1024);

    ExecutionOutcome outcome = run(backend(), request);

    assertThat(outcome.exitCode()).isZero();
    assertThat(outcome.stdout().totalBytes()).isEqualTo(6000);
    assertThat(outcome.stdout().truncated()).isTrue();
    assertThat(outcome.stdout().text()).isEqualTo("é".repeat(512));
    assertThat(outcome.stderr().totalBytes()).isEqualTo(5000);
    assertThat(outcome.stderr().text()).hasSize(1024);
    assertThat(outcome.report().result().asText()).isEqualTo("done");
  }

  @Test
  void manyMegabytesOfOutputStreamThrough() {
    ExecutionRequest request =
        new ExecutionRequest(
            "test",
            "flood",
            UUID.randomUUID().toString(),
            Language.PYTHON,
            ExecutionMode.SCRIPT,
            "main",
            "import sys\nchunk = 'y' * 65536\nfor _ in range(128):\n    sys.stdout.write(chunk)\n",
            JSON.createObjectNode(),
            UNTIMED,
            65536);

    ExecutionOutcome outcome = run(backend(), request);

    assertThat(outcome.exitCode()).isZero();
    assertThat(outcome.stdout().totalBytes()).isEqualTo(128L * 65536);
    assertThat(outcome.stdout().text()).hasSize(65536);
  }

  @Test
  void aSlowStreamStillDeliversEverything() {
    fake.slowStreams(3, Duration.ofMillis(5));
    ExecutionOutcome outcome =
        run(
            backend(),
            request(
                Language.PYTHON,
                "def main():\n    print('slowly but surely')\n    return [1, 2, 3]\n",
                "{}",
                UNTIMED));

    assertThat(outcome.exitCode()).isZero();
    assertThat(outcome.stdout().text()).isEqualTo("slowly but surely\n");
    assertThat(outcome.report().result().toString()).isEqualTo("[1,2,3]");
  }

  @Test
  void aProcessKilledBySigkillReportsExit137() {
    ExecutionOutcome outcome =
        run(
            backend(),
            request(
                Language.PYTHON,
                "import os, signal\ndef main():\n    os.kill(os.getpid(), signal.SIGKILL)\n",
                "{}",
                UNTIMED));

    assertThat(outcome.termination()).isEqualTo(Termination.EXITED);
    assertThat(outcome.exitCode()).isEqualTo(137);
    assertThat(outcome.detail()).contains("SIGKILL").contains("signal: killed");
  }

  // ---- deadlines and cancellation ----

  @Test
  void theDeadlineKillsTheSandboxWithinASecond() {
    E2bSandboxBackend backend = backend();
    ExecutionOutcome outcome =
        run(
            backend,
            request(
                Language.PYTHON,
                "import time\ndef main():\n    time.sleep(60)\n",
                "{}",
                Duration.ofSeconds(2)));
    Instant returned = Instant.now();

    assertThat(outcome.termination()).isEqualTo(Termination.TIMED_OUT);
    System.out.printf(
        "E2B deadline of 2000 ms: stream closed after %d ms, sandbox killed after %d ms%n",
        Duration.between(outcome.startTime(), outcome.completionTime()).toMillis(),
        Duration.between(outcome.startTime(), returned).toMillis());
    assertThat(Duration.between(outcome.startTime(), returned).toMillis())
        .as("from sending the code to the killed sandbox")
        .isBetween(2000L, 2000L + 1000);
    assertThat(fake.killedSandboxes()).containsExactly(outcome.sandboxId());
  }

  @Test
  void theOutputBeforeTheDeadlineIsKept() {
    // The print must come before the deadline, which nothing but the limit can order: 15 s leaves
    // a loaded machine time to start the interpreter (the timing is the test above's subject).
    ExecutionOutcome outcome =
        run(
            backend(),
            request(
                Language.PYTHON,
                "import time\ndef main():\n    print('before the sleep', flush=True)\n    time.sleep(60)\n",
                "{}",
                Duration.ofSeconds(15)));

    assertThat(outcome.termination()).isEqualTo(Termination.TIMED_OUT);
    assertThat(outcome.stdout().text()).isEqualTo("before the sleep\n");
  }

  @Test
  void aStalledStreamEndsAtTheDeadline() {
    fake.stallStreams(true);
    E2bSandboxBackend backend = backend();
    ExecutionOutcome outcome =
        run(
            backend,
            request(Language.PYTHON, "def main():\n    return 1\n", "{}", Duration.ofSeconds(1)));
    Instant returned = Instant.now();

    assertThat(outcome.termination()).isEqualTo(Termination.TIMED_OUT);
    assertThat(Duration.between(outcome.startTime(), returned).toMillis())
        .isBetween(1000L, 1000L + 1000);
    assertThat(fake.killedSandboxes()).containsExactly(outcome.sandboxId());
  }

  @Test
  void envdsDeadlineExceededTrailerIsATimeout() {
    fake.envdDeadline(Duration.ofMillis(500));
    ExecutionOutcome outcome =
        run(
            backend(),
            request(
                Language.PYTHON,
                "import time\ndef main():\n    time.sleep(20)\n",
                "{}",
                Duration.ofSeconds(10)));

    assertThat(outcome.termination()).isEqualTo(Termination.TIMED_OUT);
    assertThat(Duration.between(outcome.startTime(), outcome.completionTime()).toMillis())
        .as("ended by envd's trailer, not by the 10s deadline")
        .isLessThan(5000);
  }

  @Test
  void cancellingARunKillsTheSandboxAtOnce() throws Exception {
    E2bSandboxBackend backend = backend();
    RunControl control = RunControl.detached();
    CompletableFuture<ExecutionOutcome> outcome =
        CompletableFuture.supplyAsync(
            () ->
                execute(
                    backend,
                    request(
                        Language.PYTHON,
                        "import time\ndef main():\n    time.sleep(60)\n",
                        "{}",
                        Duration.ofSeconds(60)),
                    control),
            async);
    await().until(() -> fake.journal().stream().anyMatch(line -> line.startsWith("input ")));

    long cancelled = System.nanoTime();
    control.cancel();
    ExecutionOutcome result = outcome.get(10, TimeUnit.SECONDS);

    assertThat(result.termination()).isEqualTo(Termination.CANCELLED);
    assertThat((System.nanoTime() - cancelled) / 1_000_000).isLessThan(2000);
    assertThat(fake.killedSandboxes()).containsExactly(result.sandboxId());
  }

  // ---- the sandbox goes away, envd errors ----

  @Test
  void aSandboxVanishingMidRunIsASandboxFailure() throws Exception {
    E2bSandboxBackend backend = backend();
    CompletableFuture<ExecutionOutcome> outcome =
        CompletableFuture.supplyAsync(
            () ->
                run(
                    backend,
                    request(
                        Language.PYTHON,
                        "import time\ndef main():\n    time.sleep(60)\n",
                        "{}",
                        Duration.ofSeconds(60))),
            async);
    await().until(() -> fake.journal().stream().anyMatch(line -> line.startsWith("input ")));
    String id = fake.liveSandboxes().iterator().next();

    fake.vanish(id);
    ExecutionOutcome result = outcome.get(10, TimeUnit.SECONDS);

    assertThat(result.termination()).isEqualTo(Termination.SANDBOX_FAILED);
    assertThat(result.detail()).contains("disappeared").contains(id);
  }

  @Test
  void aSandboxVanishingRightAfterTheProcessStartsIsASandboxFailure() {
    fake.vanishOnNextStart();
    ExecutionOutcome outcome =
        run(backend(), request(Language.PYTHON, "def main():\n    return 1\n", "{}", UNTIMED));

    assertThat(outcome.termination()).isEqualTo(Termination.SANDBOX_FAILED);
    assertThat(outcome.detail()).containsAnyOf("gone", "disappeared");
  }

  @Test
  void a502FromTheEdgeMeansTheSandboxIsGone() {
    fake.scriptStarts(
        Scripted.json(
            502, "{\"sandboxId\":\"x\",\"message\":\"The sandbox was not found\",\"code\":502}"));
    ExecutionOutcome outcome =
        run(backend(), request(Language.PYTHON, "def main():\n    return 1\n", "{}", UNTIMED));

    assertThat(outcome.termination()).isEqualTo(Termination.SANDBOX_FAILED);
    assertThat(outcome.detail())
        .contains("gone")
        .contains("HTTP 502")
        .contains("The sandbox was not found");
  }

  @Test
  void anErrorTrailerFromEnvdIsASandboxFailureWithItsMessage() {
    fake.endStreamsWithError("unavailable", "sandbox timeout reached");
    ExecutionOutcome outcome =
        run(backend(), request(Language.PYTHON, "def main():\n    return 1\n", "{}", UNTIMED));

    assertThat(outcome.termination()).isEqualTo(Termination.SANDBOX_FAILED);
    assertThat(outcome.detail()).contains("unavailable: sandbox timeout reached");
  }

  @Test
  void aTemplateWithoutTheInterpreterIsExit127FromEnvdsShellAndASandboxFailureWithTheFix() {
    // envd runs every process through /bin/sh (E2B-INFRA #2028): no start error, exit 127.
    fake.withoutCommand("node");
    ExecutionOutcome outcome =
        run(
            backend(),
            request(Language.JAVASCRIPT, "function main() { return 1; }", "{}", UNTIMED));

    assertThat(outcome.termination()).isEqualTo(Termination.SANDBOX_FAILED);
    assertThat(outcome.detail())
        .contains("The sandbox has no node on envd's PATH (exit 127:")
        .contains("node: not found")
        .contains("fix template code-interpreter-v1");
  }

  @Test
  void codeThatExits127ItselfIsStillItsOwnOutcome() {
    ExecutionOutcome outcome =
        run(
            backend(),
            request(
                Language.PYTHON,
                "import os, sys\ndef main():\n    sys.stderr.write('tool: not found\\n')\n    sys.stderr.flush()\n    os._exit(127)\n",
                "{}",
                Duration.ofSeconds(10)));
    assertThat(outcome.termination()).as(outcome.detail()).isEqualTo(Termination.EXITED);
    assertThat(outcome.exitCode()).isEqualTo(127);
  }

  @Test
  void envdRejectingTheAccessTokenIsASandboxFailure() {
    fake.rejectAccessTokens(true);
    ExecutionOutcome outcome =
        run(backend(), request(Language.PYTHON, "def main():\n    return 1\n", "{}", UNTIMED));

    assertThat(outcome.termination()).isEqualTo(Termination.SANDBOX_FAILED);
    assertThat(outcome.detail()).contains("access token").contains("HTTP 401");
    assertThat(fake.killedSandboxes()).hasSize(1);
  }

  // ---- control-plane errors ----

  @Test
  void aFailedCreationKeepsTheServicesMessageAndLeavesNothing() {
    fake.scriptCreates(
        Scripted.json(
            502,
            "{\"code\":502,\"message\":\"upstream connect error\",\"error_code\":\"internal_server_error\"}"));
    ExecutionOutcome outcome =
        run(backend(), request(Language.PYTHON, "def main():\n    return 1\n", "{}", UNTIMED));

    assertThat(outcome.termination()).isEqualTo(Termination.SANDBOX_FAILED);
    assertThat(outcome.detail())
        .contains("could not create a sandbox")
        .contains("HTTP 502: upstream connect error");
  }

  @Test
  void anUnknownTemplateNamesIt() {
    E2bSandboxBackend backend =
        backend(provider -> provider.getSpec().getE2b().setTemplate("no-such-template"));
    ExecutionOutcome outcome =
        run(backend, request(Language.PYTHON, "def main():\n    return 1\n", "{}", UNTIMED));

    assertThat(outcome.termination()).isEqualTo(Termination.SANDBOX_FAILED);
    assertThat(outcome.detail()).contains("template 'no-such-template' not found");
  }

  @Test
  void quotaRefusalsKeepNewExecutionsWaitingAndTheRefusedOneRetries() throws Exception {
    E2bSandboxBackend backend = backend();
    wakeUps.set(0);
    String refusal =
        "{\"code\":429,\"message\":\"you have reached the maximum number of concurrent E2B sandboxes (20)\"}";
    fake.scriptCreates(Scripted.json(429, refusal), Scripted.json(429, refusal));

    SandboxLease first = backend.tryAcquire(Language.PYTHON).orElseThrow();
    CompletableFuture<ExecutionOutcome> outcome =
        CompletableFuture.supplyAsync(
            () ->
                execute(
                    backend,
                    first,
                    request(
                        Language.PYTHON,
                        "def main():\n    return 'after the quota'\n",
                        "{}",
                        UNTIMED),
                    RunControl.detached()),
            async);
    await().until(() -> fake.createRequests().size() >= 1);
    await().until(() -> backend.tryAcquire(Language.PYTHON).isEmpty());

    ExecutionOutcome result = outcome.get(UNTIMED.toSeconds(), TimeUnit.SECONDS);

    assertThat(result.exitCode()).isZero();
    assertThat(result.report().result().asText()).isEqualTo("after the quota");
    assertThat(fake.createRequests()).hasSize(3);
    assertThat(wakeUps.get()).as("the queue is told when creation works again").isPositive();
    Optional<SandboxLease> next = backend.tryAcquire(Language.PYTHON);
    assertThat(next).isPresent();
    next.get().release();
  }

  @Test
  void aServiceQuotaBelowTheLoadIsWaitedOutNotFailed() throws Exception {
    fake.quota(3);
    E2bSandboxBackend backend = backend();
    List<CompletableFuture<ExecutionOutcome>> outcomes = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      SandboxLease lease = backend.tryAcquire(Language.PYTHON).orElseThrow();
      ExecutionRequest request =
          request(
              Language.PYTHON,
              "import time\ndef main(i):\n    time.sleep(0.3)\n    return i\n",
              "{\"i\":" + i + "}",
              UNTIMED);
      outcomes.add(
          CompletableFuture.supplyAsync(
              () -> execute(backend, lease, request, RunControl.detached()), async));
    }
    for (int i = 0; i < outcomes.size(); i++) {
      ExecutionOutcome outcome = outcomes.get(i).get(2 * UNTIMED.toSeconds(), TimeUnit.SECONDS);
      assertThat(outcome.exitCode()).as("execution %d: %s", i, outcome.detail()).isZero();
      assertThat(outcome.report().result().asInt()).isEqualTo(i);
    }
    assertThat(fake.peakLive()).isLessThanOrEqualTo(3);
  }

  @Test
  void cancellingWhileWaitingForQuotaCreatesNothing() throws Exception {
    fake.quota(0);
    E2bSandboxBackend backend = backend();
    RunControl control = RunControl.detached();
    CompletableFuture<ExecutionOutcome> outcome =
        CompletableFuture.supplyAsync(
            () ->
                execute(
                    backend,
                    request(Language.PYTHON, "def main():\n    return 1\n", "{}", UNTIMED),
                    control),
            async);
    await().until(() -> fake.createRequests().size() >= 2);

    control.cancel();
    ExecutionOutcome result = outcome.get(5, TimeUnit.SECONDS);

    assertThat(result.termination()).isEqualTo(Termination.CANCELLED);
    assertThat(result.sandboxId()).isNull();
    assertThat(fake.journal()).isEmpty();
  }

  @Test
  void aRejectedKeyAtCreationStopsNewLeasesUntilAProbeAcceptsIt() {
    E2bSandboxBackend backend = backend();
    wakeUps.set(0);
    fake.scriptCreates(Scripted.json(401, "{\"code\":401,\"message\":\"Invalid API key\"}"));

    ExecutionOutcome outcome =
        run(backend, request(Language.PYTHON, "def main():\n    return 1\n", "{}", UNTIMED));

    assertThat(outcome.termination()).isEqualTo(Termination.SANDBOX_FAILED);
    assertThat(outcome.detail()).contains("rejected the API key").contains("HTTP 401");
    assertThat(backend.tryAcquire(Language.PYTHON)).isEmpty();
    assertThat(backend.probe().ready()).isTrue();
    assertThat(wakeUps.get()).isPositive();
    Optional<SandboxLease> lease = backend.tryAcquire(Language.PYTHON);
    assertThat(lease).isPresent();
    lease.get().release();
  }

  // ---- probe ----

  @Test
  void probeIsReadyWithAValidKey() {
    ProbeResult probe = backend().probe();

    assertThat(probe.ready()).isTrue();
    assertThat(probe.reason()).isEqualTo(SandboxProviderReason.BACKEND_REACHABLE);
    assertThat(probe.message()).contains(fake.apiUrl()).contains("code-interpreter-v1");
  }

  @Test
  void probeReportsARejectedKeyWithoutRevealingIt() throws Exception {
    fake.echoKeysInErrors(true);
    String wrongKey = FakeE2bServer.newApiKey();
    E2bSandboxBackend backend = backend(wrongKey, provider -> {});

    ProbeResult probe = backend.probe();

    assertThat(probe.ready()).isFalse();
    assertThat(probe.reason()).isEqualTo(SandboxProviderReason.CREDENTIALS_REJECTED);
    assertThat(probe.message())
        .contains("Secret " + SECRET)
        .contains("HTTP 401")
        .contains("[redacted]")
        .doesNotContain(wrongKey)
        .doesNotContain(apiKey);
    assertThat(backend.tryAcquire(Language.PYTHON)).as("no leases with a rejected key").isEmpty();
  }

  @Test
  void probeReportsAnUnreachableApi() throws Exception {
    int closedPort;
    try (java.net.ServerSocket socket = new java.net.ServerSocket(0)) {
      closedPort = socket.getLocalPort();
    }
    E2bSandboxBackend backend =
        backend(apiKey, p -> p.getSpec().getE2b().setApiUrl("http://127.0.0.1:" + closedPort));

    ProbeResult probe = backend.probe();

    assertThat(probe.ready()).isFalse();
    assertThat(probe.reason()).isEqualTo(SandboxProviderReason.BACKEND_UNREACHABLE);
    assertThat(probe.message()).contains("127.0.0.1:" + closedPort).contains("did not answer");
  }

  @Test
  void probeFallsBackToTheOlderListingAndReportsServerErrors() {
    E2bSandboxBackend backend = backend();
    fake.scriptProbes(Scripted.json(404, "{\"code\":404,\"message\":\"not found\"}"));
    assertThat(backend.probe().ready()).as("v2 listing missing, v1 answered").isTrue();

    fake.scriptProbes(
        Scripted.json(
            503, "{\"code\":503,\"message\":\"maintenance\",\"error_code\":\"unavailable\"}"));
    ProbeResult probe = backend.probe();
    assertThat(probe.ready()).isFalse();
    assertThat(probe.reason()).isEqualTo(SandboxProviderReason.BACKEND_UNREACHABLE);
    assertThat(probe.message()).contains("HTTP 503: maintenance");
  }

  // ---- restart cleanup ----

  @Test
  void discardKillsTheRecordedSandboxAndAnyThatOnlyItsMetadataNames() throws Exception {
    E2bSandboxBackend backend = backend();
    String recorded = createDirectly("uid-1");
    String orphan = createDirectly("uid-2");
    String unrelated = createDirectly("someone-else");

    backend.discard("uid-1", recorded);
    backend.discard("uid-2", null);

    await().untilAsserted(() -> assertThat(fake.liveSandboxes()).containsExactly(unrelated));
    assertThat(fake.killedSandboxes()).contains(recorded, orphan);
    fake.vanish(unrelated);
  }

  // ---- load ----

  @Test
  void twentyConcurrentExecutionsEachGetTheirOwnSandbox() throws Exception {
    E2bSandboxBackend backend = backend();
    long started = System.nanoTime();
    List<CompletableFuture<ExecutionOutcome>> outcomes = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      Language language = i % 2 == 0 ? Language.PYTHON : Language.JAVASCRIPT;
      String code =
          language == Language.PYTHON
              ? "import time\ndef main(i):\n    time.sleep(0.5)\n    print(f'run {i}')\n    return i\n"
              : "function main({i}) { return new Promise(r => setTimeout(() => { console.log('run ' + i); r(i); }, 500)); }";
      ExecutionRequest request = request(language, code, "{\"i\":" + i + "}", UNTIMED);
      outcomes.add(CompletableFuture.supplyAsync(() -> run(backend, request), async));
    }
    for (int i = 0; i < 20; i++) {
      ExecutionOutcome outcome = outcomes.get(i).get(2 * UNTIMED.toSeconds(), TimeUnit.SECONDS);
      assertThat(outcome.exitCode()).as("run %d: %s", i, outcome.detail()).isZero();
      assertThat(outcome.report().result().asInt()).isEqualTo(i);
      assertThat(outcome.stdout().text()).isEqualTo("run " + i + "\n");
    }
    long millis = (System.nanoTime() - started) / 1_000_000;
    System.out.printf(
        "20 concurrent E2B executions against the fake: %d ms, at most %d sandboxes alive at once%n",
        millis, fake.peakLive());
    assertThat(fake.peakLive()).as("the runs overlapped").isGreaterThan(1);
    assertThat(fake.killedSandboxes()).hasSize(20);
  }

  // ---- as the real service behaves (issue 14) ----

  @Test
  void noEnvdUserIsSentByDefaultSpecUserIsAndOldEnvdGetsTheSdksUser() {
    ExecutionOutcome plain =
        run(
            backend(),
            request(Language.PYTHON, "def main():\n    return 1\n", "{}", Duration.ofSeconds(10)));
    assertThat(plain.exitCode()).as(plain.detail()).isZero();
    assertThat(fake.envdUsers()).isNotEmpty().allMatch(String::isEmpty);

    ExecutionOutcome asRoot =
        run(
            backend(p -> p.getSpec().getE2b().setUser("root")),
            request(Language.PYTHON, "def main():\n    return 2\n", "{}", Duration.ofSeconds(10)));
    assertThat(asRoot.exitCode()).as(asRoot.detail()).isZero();
    assertThat(fake.envdUsers()).contains("root");

    fake.addTemplate("old-envd");
    fake.envdVersion("old-envd", "0.3.5"); // before 0.4.0 envd has no default user
    ExecutionOutcome old =
        run(
            backend(p -> p.getSpec().getE2b().setTemplate("old-envd")),
            request(Language.PYTHON, "def main():\n    return 3\n", "{}", Duration.ofSeconds(10)));
    assertThat(old.exitCode()).as(old.detail()).isZero();
    assertThat(fake.envdUsers().get(fake.envdUsers().size() - 1)).isEqualTo("user");
  }

  @Test
  void aUserTheTemplateLacksIsNamedAsSuchNotAsARejectedToken() {
    ExecutionOutcome outcome =
        run(
            backend(p -> p.getSpec().getE2b().setUser("alice")),
            request(Language.PYTHON, "def main():\n    return 1\n", "{}", Duration.ofSeconds(10)));
    assertThat(outcome.termination()).isEqualTo(Termination.SANDBOX_FAILED);
    assertThat(outcome.detail())
        .contains("no such OS user")
        .contains("invalid username: 'alice'")
        .contains("spec.e2b.user")
        .doesNotContain("access token");
  }

  @Test
  void secureIsAlwaysAskedAndATemplateTooOldForItIsExplained() {
    fake.addTemplate("ancient");
    fake.envdVersion("ancient", "0.1.5");
    ExecutionOutcome outcome =
        run(
            backend(p -> p.getSpec().getE2b().setTemplate("ancient")),
            request(Language.PYTHON, "def main():\n    return 1\n", "{}", Duration.ofSeconds(10)));
    assertThat(outcome.termination()).isEqualTo(Termination.SANDBOX_FAILED);
    assertThat(outcome.detail())
        .contains("HTTP 400: Template is not compatible with secured access")
        .contains("0.2.0 or newer")
        .contains("rebuild the template");
    assertThat(fake.createRequests())
        .singleElement()
        .satisfies(r -> assertThat(r.path("secure").asBoolean()).isTrue());
  }

  @Test
  void envdOlderThanStdinSupportIsRefusedBeforeAnythingRuns() {
    fake.addTemplate("no-stdin");
    fake.envdVersion("no-stdin", "0.2.4");
    ExecutionOutcome outcome =
        run(
            backend(p -> p.getSpec().getE2b().setTemplate("no-stdin")),
            request(Language.PYTHON, "def main():\n    return 1\n", "{}", Duration.ofSeconds(10)));
    assertThat(outcome.termination()).isEqualTo(Termination.SANDBOX_FAILED);
    assertThat(outcome.detail()).contains("envd 0.2.4, older than 0.3.0");
    assertThat(fake.journal()).noneMatch(line -> line.startsWith("start"));
  }

  @Test
  void aTimeoutBeyondThePlansLongestSandboxIsExplained() {
    fake.maxSandboxHours(1);
    ExecutionOutcome outcome =
        run(
            backend(),
            request(
                Language.PYTHON, "def main():\n    return 1\n", "{}", Duration.ofSeconds(3590)));
    assertThat(outcome.termination()).isEqualTo(Termination.SANDBOX_FAILED);
    assertThat(outcome.detail())
        .contains("HTTP 400: Timeout cannot be greater than 1 hours")
        .contains("lower timeoutSeconds or spec.limits.maxTimeoutSeconds");
  }

  @Test
  void capacityUnavailableIsWaitedOutLikeAQuota() throws Exception {
    E2bSandboxBackend backend = backend();
    fake.capacityUnavailableNext(2);
    SandboxLease lease = backend.tryAcquire(Language.PYTHON).orElseThrow();
    CompletableFuture<ExecutionOutcome> outcome =
        CompletableFuture.supplyAsync(
            () ->
                execute(
                    backend,
                    lease,
                    request(
                        Language.PYTHON,
                        "def main():\n    return 'placed'\n",
                        "{}",
                        Duration.ofSeconds(10)),
                    RunControl.detached()),
            async);
    await().until(() -> backend.tryAcquire(Language.PYTHON).isEmpty());
    ExecutionOutcome result = outcome.get(20, TimeUnit.SECONDS);
    assertThat(result.exitCode()).as(result.detail()).isZero();
    assertThat(result.report().result().asText()).isEqualTo("placed");
    assertThat(fake.createRequests()).hasSize(3);
  }

  @Test
  void envdTrafficFallsBackToHttp11WhereHttp2IsNotOffered() {
    ExecutionOutcome outcome =
        run(
            backend(),
            request(Language.PYTHON, "def main():\n    return 1\n", "{}", Duration.ofSeconds(10)));
    assertThat(outcome.exitCode()).as(outcome.detail()).isZero();
    // The fake is the JDK's HTTP/1.1 server; EnvdHttp2Test shows HTTP/2 where it is offered.
    assertThat(fake.envdProtocols()).isNotEmpty().allMatch("HTTP/1.1"::equals);
  }

  // ---- helpers ----

  /** How often the backends built here called their capacity listener. */
  private final AtomicInteger wakeUps = new AtomicInteger();

  private E2bSandboxBackend backend() {
    return backend(apiKey, provider -> {});
  }

  private E2bSandboxBackend backend(Consumer<SandboxProvider> customize) {
    return backend(apiKey, customize);
  }

  private E2bSandboxBackend backend(String key, Consumer<SandboxProvider> customize) {
    SandboxProvider provider = TestResources.anE2bProvider("team-a", "e2b", fake.apiUrl(), SECRET);
    customize.accept(provider);
    OperatorConfig config = OperatorConfig.defaults();
    BackendContext context =
        new BackendContext(
                "provider-uid",
                ProviderSettings.of(provider, config),
                provider.getSpec(),
                Map.of(SECRET, Map.of("apiKey", key)),
                config,
                null)
            .withListeners(wakeUps::incrementAndGet, ServiceCallListener.NONE);
    E2bSandboxBackend backend = new E2bSandboxBackend(context, fake.sandboxUrl(), FAST);
    backends.add(backend);
    return backend;
  }

  private static ExecutionRequest request(
      Language language, String code, String arguments, Duration timeout) {
    return new ExecutionRequest(
        "test",
        "e2b-run",
        UUID.randomUUID().toString(),
        language,
        ExecutionMode.FUNCTION,
        "main",
        code,
        json(arguments),
        timeout,
        65536);
  }

  private static ExecutionOutcome run(E2bSandboxBackend backend, ExecutionRequest request) {
    return execute(backend, request, RunControl.detached());
  }

  private static ExecutionOutcome execute(
      E2bSandboxBackend backend, ExecutionRequest request, RunControl control) {
    SandboxLease lease = backend.tryAcquire(request.language()).orElseThrow();
    return execute(backend, lease, request, control);
  }

  private static ExecutionOutcome execute(
      E2bSandboxBackend backend, SandboxLease lease, ExecutionRequest request, RunControl control) {
    return backend.execute(lease, request, control);
  }

  /** A sandbox made by someone else, tagged as if this provider had made it for an execution. */
  private String createDirectly(String executionUid) throws Exception {
    String body =
        "{\"templateID\":\"code-interpreter-v1\",\"timeout\":60,\"metadata\":{\""
            + ApiConstants.EXECUTION_UID_LABEL
            + "\":\""
            + executionUid
            + "\",\""
            + ApiConstants.PROVIDER_UID_LABEL
            + "\":\"provider-uid\"}}";
    HttpResponse<String> response =
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(URI.create(fake.apiUrl() + "/sandboxes"))
                    .header("X-API-Key", apiKey)
                    .POST(HttpRequest.BodyPublishers.ofString(body))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).isEqualTo(201);
    return JSON.readTree(response.body()).path("sandboxID").asText();
  }

  private static JsonNode json(String text) {
    try {
      return JSON.readTree(text);
    } catch (Exception e) {
      throw new IllegalArgumentException(e);
    }
  }
}
