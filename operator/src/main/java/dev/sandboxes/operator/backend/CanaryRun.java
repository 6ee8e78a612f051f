package dev.sandboxes.operator.backend;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sandboxes.api.v1alpha1.ExecutionMode;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.operator.execution.ExecutionOutcome;
import dev.sandboxes.operator.execution.ExecutionRequest;
import dev.sandboxes.operator.execution.Termination;
import dev.sandboxes.operator.provider.ProviderSettings;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;

/**
 * One canary execution through a backend: a tiny program leased, run and checked end to end. The
 * provider's periodic canary (sandboxprovider/Canary), `run --canary` and the SaaS backends' trial
 * starts while sandboxes fail to start all use it.
 */
public final class CanaryRun {

  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * Longest the canary's code may run (Aliyun's limit; every provider allows at least this unless
   * its maximum is lower).
   */
  private static final int TIMEOUT_SECONDS = 30;

  /** How long a run waits for a free sandbox before it reports that none was free. */
  public static final Duration SANDBOX_WAIT = Duration.ofSeconds(60);

  private static final int MAX_DETAIL = 300;

  /** The program: a result computed from the arguments, a line on stdout and a non-ASCII string. */
  private static final Map<Language, String> CODE =
      Map.of(
          Language.PYTHON,
              "def main(a, b):\n    print('canary')\n    return {'sum': a + b, 'echo': '\u2713'}\n",
          Language.JAVASCRIPT,
              "module.exports.main = ({a, b}) => { console.log('canary'); return {sum: a + b, echo: '\u2713'}; };\n");

  private static final String ARGUMENTS = "{\"a\":20,\"b\":22}";
  private static final String EXPECTED_RESULT = "{\"sum\":42,\"echo\":\"\u2713\"}";

  /** One finished run. passed null means no sandbox was free (neither passed nor failed). */
  public record Result(
      Boolean passed, String message, long latencyMillis, Instant finishedAt, Language language) {}

  /**
   * Runs the canary once through a backend and checks it: lease (waiting up to a minute for a free
   * sandbox), execute, compare. Blocks; the latency covers lease, sandbox and deletion.
   */
  public static Result run(
      SandboxBackend backend,
      ProviderSettings settings,
      Language language,
      RunControl control,
      Clock clock) {
    long started = System.nanoTime();
    Optional<SandboxLease> lease = backend.tryAcquire(language);
    while (lease.isEmpty()
        && System.nanoTime() - started < SANDBOX_WAIT.toNanos()
        && !control.isCancelled()) {
      try {
        Thread.sleep(250);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
      lease = backend.tryAcquire(language);
    }
    if (lease.isEmpty()) {
      return new Result(
          null,
          "found no free "
              + language.value()
              + " sandbox within "
              + SANDBOX_WAIT.toSeconds()
              + "s; it tries again at the next interval",
          elapsedMillis(started),
          clock.instant(),
          language);
    }
    ExecutionRequest request = request(settings, language);
    ExecutionOutcome outcome;
    try {
      outcome = backend.execute(lease.get(), request, control);
    } catch (RuntimeException e) {
      outcome =
          ExecutionOutcome.failure(
              Termination.SANDBOX_FAILED, null, null, clock.instant(), "the backend failed: " + e);
    }
    return evaluate(outcome, language, elapsedMillis(started), clock.instant());
  }

  /** The canary's execution: its own uid each time, the provider's output cap, at most 30 s. */
  public static ExecutionRequest request(ProviderSettings settings, Language language) {
    try {
      return new ExecutionRequest(
          settings.namespace(),
          "canary-" + settings.name(),
          "canary-" + UUID.randomUUID(),
          language,
          ExecutionMode.FUNCTION,
          "main",
          CODE.get(language),
          JSON.readTree(ARGUMENTS),
          Duration.ofSeconds(Math.min(TIMEOUT_SECONDS, settings.limits().maxTimeoutSeconds())),
          settings.limits().maxOutputBytes());
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Passed when the program exited 0 with the expected result and stdout; otherwise says what
   * differed.
   */
  public static Result evaluate(
      ExecutionOutcome outcome, Language language, long latencyMillis, Instant finishedAt) {
    String problem = problem(outcome);
    if (problem == null) {
      return new Result(
          true,
          "a " + language.value() + " execution ran end to end in " + latencyMillis + " ms",
          latencyMillis,
          finishedAt,
          language);
    }
    return new Result(
        false,
        "a "
            + language.value()
            + " execution failed after "
            + latencyMillis
            + " ms: "
            + oneLine(problem),
        latencyMillis,
        finishedAt,
        language);
  }

  private static String problem(ExecutionOutcome outcome) {
    String detail = outcome.detail() == null ? "" : " (" + outcome.detail() + ")";
    switch (outcome.termination()) {
      case TIMED_OUT:
        return "it timed out" + detail;
      case CANCELLED:
        return "it was cancelled" + detail;
      case EXITED:
        break;
      default:
        return "the sandbox failed" + detail;
    }
    if (!Objects.equals(outcome.exitCode(), 0)) {
      String stderr = outcome.stderr() == null ? "" : outcome.stderr().text().strip();
      return "it exited with code "
          + outcome.exitCode()
          + detail
          + (stderr.isEmpty() ? "" : "; stderr: " + stderr);
    }
    JsonNode result = outcome.report() == null ? null : outcome.report().result();
    try {
      if (result == null || !result.equals(JSON.readTree(EXPECTED_RESULT))) {
        return "it returned "
            + (result == null ? "no result" : result.toString())
            + " instead of "
            + EXPECTED_RESULT;
      }
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
    if (outcome.stdout() == null || !"canary\n".equals(outcome.stdout().text())) {
      return "its stdout was not the line it printed";
    }
    return null;
  }

  private static long elapsedMillis(long startedNanos) {
    return (System.nanoTime() - startedNanos) / 1_000_000;
  }

  private static String oneLine(String text) {
    String line = text.replaceAll("\\s+", " ").strip();
    return line.length() <= MAX_DETAIL ? line : line.substring(0, MAX_DETAIL) + "…";
  }

  private CanaryRun() {}
}
