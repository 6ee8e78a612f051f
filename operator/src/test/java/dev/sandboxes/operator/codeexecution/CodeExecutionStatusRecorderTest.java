package dev.sandboxes.operator.codeexecution;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionReason;
import dev.sandboxes.api.v1alpha1.CodeExecutionStatus;
import dev.sandboxes.api.v1alpha1.OutputLimitAction;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.api.v1alpha1.Reason;
import dev.sandboxes.operator.backend.SandboxBackendFactory;
import dev.sandboxes.operator.events.EventRecorder;
import dev.sandboxes.operator.execution.ExecutionOutcome;
import dev.sandboxes.operator.execution.Termination;
import dev.sandboxes.operator.metrics.OperatorMetrics;
import dev.sandboxes.operator.runner.RunnerReport;
import dev.sandboxes.operator.runner.StreamCapture;
import dev.sandboxes.operator.sandboxprovider.ProviderRegistry;
import dev.sandboxes.operator.testing.MutableClock;
import dev.sandboxes.operator.testing.TestResources;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * What the status recorder writes and what its subscribers make of each transition: the events and
 * meters that reconcile paths used to emit by hand.
 */
@Tag("unit")
class CodeExecutionStatusRecorderTest {

  private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");

  private final CapturingEvents events = new CapturingEvents();
  private final CodeExecutionEvents eventSubscriber = new CodeExecutionEvents(events);
  private final PrometheusMeterRegistry prometheus =
      new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final MutableClock clock = new MutableClock(T0.plusSeconds(3));
  private final OperatorMetrics metrics =
      new OperatorMetrics(
          prometheus,
          new ProviderRegistry(new SandboxBackendFactory(), uid -> {}),
          new ExecutionQueue(id -> {}),
          clock);
  private final CodeExecutionMetrics metricSubscriber = new CodeExecutionMetrics(metrics, clock);

  @Test
  void aWaitingExecutionIsRewrittenOnlyWhenWhatAReaderSeesChanges() {
    CodeExecution cx = execution();
    CodeExecutionStatus waiting =
        CodeExecutionStatusCalculator.waiting(
            cx, CodeExecutionReason.PROVIDER_NOT_READY, "p is not Ready.", T0);
    cx.setStatus(waiting);
    assertThat(CodeExecutionStatusRecorder.worthWriting(null, waiting)).isTrue();
    assertThat(
            CodeExecutionStatusRecorder.worthWriting(
                waiting,
                CodeExecutionStatusCalculator.waiting(
                    cx,
                    CodeExecutionReason.PROVIDER_NOT_READY,
                    "p is not Ready.",
                    T0.plusSeconds(60))))
        .as("the same wait a minute later")
        .isFalse();
    assertThat(
            CodeExecutionStatusRecorder.worthWriting(
                waiting,
                CodeExecutionStatusCalculator.waiting(
                    cx,
                    CodeExecutionReason.PROVIDER_NOT_READY,
                    "p is not Ready: a new error.",
                    T0)))
        .as("a new message")
        .isTrue();
    assertThat(
            CodeExecutionStatusRecorder.worthWriting(
                waiting, CodeExecutionStatusCalculator.queued(cx, "p", ProviderType.DOCKER, T0)))
        .as("a new reason")
        .isTrue();
  }

  @Test
  void aStartAnOutcomeAndASandboxIdAreAlwaysWorthWriting() {
    CodeExecution cx = execution();
    cx.setStatus(CodeExecutionStatusCalculator.queued(cx, "p", ProviderType.DOCKER, T0));
    CodeExecutionStatus started =
        CodeExecutionStatusCalculator.started(cx, "p", ProviderType.DOCKER, null, T0);
    assertThat(CodeExecutionStatusRecorder.worthWriting(cx.getStatus(), started)).isTrue();
    cx.setStatus(started);
    assertThat(
            CodeExecutionStatusRecorder.worthWriting(
                started, CodeExecutionStatusCalculator.copy(cx)))
        .as("nothing changed")
        .isFalse();
    CodeExecutionStatus withId = CodeExecutionStatusCalculator.copy(cx);
    withId.getSandbox().setId("sbx-1");
    assertThat(CodeExecutionStatusRecorder.worthWriting(started, withId)).isTrue();
    assertThat(
            CodeExecutionStatusRecorder.worthWriting(
                started, CodeExecutionStatusCalculator.interrupted(cx, null, T0)))
        .isTrue();
  }

  @Test
  void aStartIsAnEventAndAQueueWait() {
    CodeExecution cx = execution();
    cx.setStatus(CodeExecutionStatusCalculator.queued(cx, "p", ProviderType.DOCKER, T0));
    CodeExecutionStatus started =
        CodeExecutionStatusCalculator.started(cx, "p", ProviderType.DOCKER, null, T0);

    recorded(cx, started);

    assertThat(events.recorded).containsExactly("Normal Started Running on SandboxProvider p.");
    assertThat(prometheus.scrape())
        .contains(
            "sandbox_codeexecution_queue_wait_seconds_count{language=\"python\",type=\"Docker\"} 1");
  }

  @Test
  void aRunsOutcomeIsItsReasonsEventAndCounterAndSandboxFailedIsABackendError() {
    CodeExecution cx = startedExecution();
    ExecutionOutcome failed =
        new ExecutionOutcome(
            Termination.SANDBOX_FAILED,
            null,
            StreamCapture.EMPTY,
            StreamCapture.EMPTY,
            RunnerReport.NONE,
            "s",
            T0,
            T0.plusMillis(10),
            null);
    CodeExecutionStatus finished =
        CodeExecutionStatusCalculator.finished(
            cx, failed, OutputLimitAction.TRUNCATE, Duration.ofSeconds(5), T0);

    recorded(cx, finished);

    assertThat(events.recorded).singleElement().asString().startsWith("Warning SandboxFailed ");
    assertThat(prometheus.scrape())
        .contains(
            "sandbox_codeexecution_completed_total{language=\"python\",outcome=\"SandboxFailed\",type=\"Docker\"} 1.0")
        .contains("sandbox_backend_errors_total{reason=\"SandboxFailed\",type=\"Docker\"} 1.0");
  }

  @Test
  void anExecutionThatNeverStartedCountsWithoutTypeAndIsNoBackendError() {
    CodeExecution cx = execution();
    cx.setStatus(CodeExecutionStatusCalculator.queued(cx, "p", ProviderType.DOCKER, T0));

    recorded(cx, CodeExecutionStatusCalculator.neverStarted(cx, "no sandbox", T0));

    assertThat(events.recorded).singleElement().asString().startsWith("Warning SandboxFailed ");
    assertThat(prometheus.scrape())
        .contains(
            "sandbox_codeexecution_completed_total{language=\"python\",outcome=\"SandboxFailed\",type=\"unknown\"} 1.0")
        .doesNotContain(
            "sandbox_backend_errors_total{reason=\"SandboxFailed\",type=\"unknown\"} 1.0")
        .contains("sandbox_backend_errors_total{reason=\"SandboxFailed\",type=\"Docker\"} 0.0");
  }

  @Test
  void anInvalidSpecCountsAndARefusedInputIsOnlyAnEvent() {
    CodeExecution invalid = execution();
    recorded(
        invalid, CodeExecutionStatusCalculator.invalid(invalid, List.of("spec.code is empty"), T0));
    CodeExecution refused = execution();
    recorded(
        refused,
        CodeExecutionStatusCalculator.refused(
            refused, CodeExecutionReason.SECRET_NOT_ALLOWED, "Secret s lacks the label", T0));

    assertThat(events.recorded).hasSize(2);
    assertThat(events.recorded.get(0))
        .startsWith("Warning InvalidSpec Invalid spec: spec.code is empty.");
    assertThat(events.recorded.get(1))
        .startsWith("Warning SecretNotAllowed Secret s lacks the label.");
    String scrape = prometheus.scrape();
    assertThat(scrape)
        .contains(
            "sandbox_codeexecution_completed_total{language=\"python\",outcome=\"InvalidSpec\",type=\"unknown\"} 1.0")
        .doesNotContain("outcome=\"SecretNotAllowed\"");
  }

  @Test
  void anEditSeenByTheOutcomeOrAfterItIsSpecChangeIgnored() {
    CodeExecution cx = startedExecution();
    cx.getMetadata().setGeneration(2L);
    CodeExecutionStatus interrupted = CodeExecutionStatusCalculator.interrupted(cx, null, T0);
    assertThat(interrupted.getObservedGeneration()).isEqualTo(2L);

    recorded(cx, interrupted);
    cx.setStatus(interrupted);
    cx.getMetadata().setGeneration(3L);
    CodeExecutionStatus noted = CodeExecutionStatusCalculator.copy(cx);
    noted.setObservedGeneration(3L);
    recorded(cx, noted);

    assertThat(events.recorded).hasSize(3);
    assertThat(events.recorded.get(0)).startsWith("Warning Interrupted ");
    assertThat(events.recorded.get(1))
        .startsWith("Warning SpecChangeIgnored The spec was changed while the execution ran");
    assertThat(events.recorded.get(2))
        .startsWith("Warning SpecChangeIgnored The spec was changed after the execution finished");
  }

  @Test
  void aWaitingOrASandboxIdWriteIsNoEventAndNoMeter() {
    CodeExecution cx = execution();
    recorded(
        cx,
        CodeExecutionStatusCalculator.waiting(
            cx, CodeExecutionReason.PROVIDER_NOT_FOUND, "p is missing.", T0));
    CodeExecution started = startedExecution();
    CodeExecutionStatus withId = CodeExecutionStatusCalculator.copy(started);
    withId.getSandbox().setId("sbx-1");
    recorded(started, withId);

    assertThat(events.recorded).isEmpty();
    assertThat(prometheus.scrape())
        .doesNotContain("sandbox_codeexecution_queue_wait_seconds_count");
  }

  private void recorded(CodeExecution cx, CodeExecutionStatus after) {
    eventSubscriber.recorded(cx, cx.getStatus(), after);
    metricSubscriber.recorded(cx, cx.getStatus(), after);
  }

  private static CodeExecution execution() {
    CodeExecution cx = TestResources.anExecution("ns", "x", "p");
    cx.getMetadata().setUid("uid-x");
    cx.getMetadata().setGeneration(1L);
    cx.getMetadata().setCreationTimestamp(T0.toString());
    return cx;
  }

  private static CodeExecution startedExecution() {
    CodeExecution cx = execution();
    cx.setStatus(CodeExecutionStatusCalculator.started(cx, "p", ProviderType.DOCKER, null, T0));
    return cx;
  }

  /** Keeps the events instead of writing them. */
  private static final class CapturingEvents extends EventRecorder {
    final List<String> recorded = new ArrayList<>();

    CapturingEvents() {
      super(null);
    }

    @Override
    public void record(HasMetadata object, Type type, Reason reason, String message) {
      assertThat(reason.onEvents()).as("%s is an event reason", reason).isTrue();
      recorded.add(type + " " + reason.value() + " " + message);
    }
  }
}
