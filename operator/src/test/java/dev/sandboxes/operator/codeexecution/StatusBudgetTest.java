package dev.sandboxes.operator.codeexecution;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionReason;
import dev.sandboxes.api.v1alpha1.CodeExecutionStatus;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.OutputLimitAction;
import dev.sandboxes.operator.execution.ExecutionOutcome;
import dev.sandboxes.operator.execution.Termination;
import dev.sandboxes.operator.runner.RunnerReport;
import dev.sandboxes.operator.runner.StreamCapture;
import dev.sandboxes.operator.testing.TestResources;
import io.fabric8.kubernetes.api.model.StatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The final status's size budget: encoded sizes, result first, then output, and the fallback. */
@Tag("unit")
class StatusBudgetTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");
  private static final int MAX_OUTPUT = 262144; // the largest maxOutputBytes a provider may set
  private static final long SMALL_OBJECT = 2_000;

  @Test
  void encodedSizesFollowTheApiServersEscaping() {
    assertThat(EncodedJsonSize.ofString("abc")).isEqualTo(5);
    assertThat(EncodedJsonSize.ofString("a\nb\t\"\\")).isEqualTo(2 + 1 + 2 + 1 + 2 + 2 + 2);
    assertThat(EncodedJsonSize.ofString("\u0001")).isEqualTo(2 + 6); // \u0001
    assertThat(EncodedJsonSize.ofString("<>&")).isEqualTo(2 + 18); // Go escapes HTML characters
    assertThat(EncodedJsonSize.ofString("\u2028")).isEqualTo(2 + 6);
    assertThat(EncodedJsonSize.ofString("é€😀")).isEqualTo(2 + 2 + 3 + 4);
    assertThat(EncodedJsonSize.ofString("\ud800")).isEqualTo(2 + 6); // lone surrogate
    ObjectNode tree = JSON.createObjectNode().put("a", 1).put("b", "x<").putNull("c");
    tree.putArray("d").add(true).add(2.5);
    // {"a":1,"b":"x\u003c","c":null,"d":[true,2.5]}
    assertThat(EncodedJsonSize.of(tree))
        .isEqualTo("{\"a\":1,\"b\":\"x\\u003c\",\"c\":null,\"d\":[true,2.5]}".length());
  }

  @Test
  void plainTextCountsItsUtf8Size() {
    String text = "héllo wörld ".repeat(1000);
    assertThat(EncodedJsonSize.ofString(text) - 2)
        .isEqualTo(text.getBytes(StandardCharsets.UTF_8).length);
  }

  @Test
  void aPrefixNeverSplitsACharacterAndStaysWithinTheBudget() {
    assertThat(EncodedJsonSize.prefixWithin("ab😀c", 5)).isEqualTo("ab");
    assertThat(EncodedJsonSize.prefixWithin("ab😀c", 6)).isEqualTo("ab😀");
    assertThat(EncodedJsonSize.prefixWithin("\u0001\u0001", 11)).isEqualTo("\u0001");
  }

  @Test
  void aStatusThatFitsIsLeftAlone() {
    CodeExecutionStatus status =
        finished(out("hello\n"), out("warn\n"), JSON.createObjectNode().put("x", 1));
    String before = status.getMessage();
    StatusBudget.Fitted fitted = StatusBudget.fit(status, SMALL_OBJECT);
    assertThat(fitted.resultDropped()).isFalse();
    assertThat(fitted.outputCut()).isFalse();
    assertThat(fitted.status().getStdout()).isEqualTo("hello\n");
    assertThat(fitted.status().getResult()).isNotNull();
    assertThat(fitted.status().getMessage()).isEqualTo(before);
  }

  @Test
  void controlCharacterOutputIsCutToItsEncodedSizeNotItsRawSize() {
    // 256 KiB of \u0001 per stream: 512 KiB raw, but 3 MiB as the API server stores it.
    String controls = "\u0001".repeat(MAX_OUTPUT);
    CodeExecutionStatus status = finished(out(controls), out(controls), null);
    assertThat(StatusBudget.encodedSize(status)).isGreaterThan(StatusBudget.OBJECT_LIMIT_BYTES);

    StatusBudget.Fitted fitted = StatusBudget.fit(status, SMALL_OBJECT);

    CodeExecutionStatus cut = fitted.status();
    assertThat(fitted.outputCut()).isTrue();
    assertThat(StatusBudget.encodedSize(cut))
        .isLessThanOrEqualTo(StatusBudget.statusBudget(SMALL_OBJECT));
    // Both streams keep about half of what fits, not all of one and nothing of the other.
    assertThat(cut.getStdout().length()).isBetween(100_000, 130_000);
    assertThat(cut.getStderr().length()).isBetween(100_000, 130_000);
    assertThat(cut.getStdoutTruncated()).isTrue();
    assertThat(cut.getStderrTruncated()).isTrue();
    assertThat(cut.getStdoutBytes()).isEqualTo(MAX_OUTPUT); // the full size is still reported
    assertThat(cut.getMessage()).contains("Output was cut to fit the status");
    assertThat(
            Conditions.get(cut.getConditions(), ConditionTypes.SUCCEEDED)
                .orElseThrow()
                .getMessage())
        .contains("Output was cut to fit the status");
    assertThat(Conditions.isTrue(cut.getConditions(), ConditionTypes.SUCCEEDED)).isTrue();
  }

  @Test
  void theResultGoesFirstAndOutputStaysWholeWhenThatIsEnough() {
    String stdout = "line\n".repeat(10_000);
    CodeExecutionStatus status = finished(out(stdout), out(""), bigResult(250_000, "<&>"));
    StatusBudget.Fitted fitted = StatusBudget.fit(status, 700_000);

    assertThat(fitted.resultDropped()).isTrue();
    assertThat(fitted.outputCut()).isFalse();
    assertThat(fitted.status().getResult()).isNull();
    assertThat(fitted.status().getStdout()).isEqualTo(stdout);
    assertThat(fitted.status().getMessage())
        .contains("The result (")
        .contains("did not fit in the status and was dropped");
    assertThat(StatusBudget.encodedSize(fitted.status()))
        .isLessThanOrEqualTo(StatusBudget.statusBudget(700_000));
  }

  @Test
  void aSmallResultStaysWhenTheOutputMustBeCutAnyway() {
    String controls = "\u0001".repeat(MAX_OUTPUT);
    CodeExecutionStatus status =
        finished(out(controls), out(controls), JSON.getNodeFactory().numberNode(500_000));
    StatusBudget.Fitted fitted = StatusBudget.fit(status, 500_000);
    assertThat(fitted.resultDropped()).isFalse();
    assertThat(fitted.outputCut()).isTrue();
    assertThat(fitted.status().getResult().asInt()).isEqualTo(500_000);
    assertThat(fitted.status().getMessage()).doesNotContain("was dropped");
    assertThat(StatusBudget.encodedSize(fitted.status()))
        .isLessThanOrEqualTo(StatusBudget.statusBudget(500_000));
  }

  @Test
  void aResultThatFitsStaysAndManagedFieldsOfItsKeysAreCounted() {
    ObjectNode result = JSON.createObjectNode();
    for (int i = 0; i < 1000; i++) {
      result.put("key-" + i, i);
    }
    CodeExecutionStatus status = finished(out(""), out(""), result);
    long withoutKeys = EncodedJsonSize.of(JSON.valueToTree(status));
    assertThat(StatusBudget.encodedSize(status) - withoutKeys)
        .isEqualTo(EncodedJsonSize.managedFieldsOf(result))
        .isGreaterThan(1000 * 8);
    assertThat(StatusBudget.fit(status, SMALL_OBJECT).resultDropped()).isFalse();
  }

  @Test
  void aLargeObjectLeavesLessForTheStatus() {
    String stdout = "x".repeat(MAX_OUTPUT);
    assertThat(StatusBudget.fit(finished(out(stdout), out(""), null), SMALL_OBJECT).outputCut())
        .isFalse();
    // 512 KiB of arguments, 256 KiB of code and their managedFields leave about 700 KiB.
    long bigObject = StatusBudget.OBJECT_LIMIT_BYTES - 100_000;
    StatusBudget.Fitted fitted = StatusBudget.fit(finished(out(stdout), out(""), null), bigObject);
    assertThat(fitted.outputCut()).isTrue();
    assertThat(StatusBudget.encodedSize(fitted.status()))
        .isLessThanOrEqualTo(StatusBudget.statusBudget(bigObject));
    // No room at all: output goes entirely; what is left is the verdict.
    StatusBudget.Fitted none =
        StatusBudget.fit(finished(out(stdout), out(""), null), StatusBudget.OBJECT_LIMIT_BYTES);
    assertThat(none.status().getStdout()).isNull();
    assertThat(none.status().getStdoutTruncated()).isTrue();
  }

  @Test
  void messagesAreCapped() {
    CodeExecutionStatus status = finished(out(""), out(""), null);
    status.setMessage("m".repeat(100_000));
    Conditions.get(status.getConditions(), ConditionTypes.SUCCEEDED)
        .orElseThrow()
        .setMessage("c".repeat(100_000));
    CodeExecutionStatus fitted = StatusBudget.fit(status, SMALL_OBJECT).status();
    assertThat(fitted.getMessage()).hasSize(StatusBudget.MAX_MESSAGE_CHARS).endsWith("…");
    assertThat(
            Conditions.get(fitted.getConditions(), ConditionTypes.SUCCEEDED)
                .orElseThrow()
                .getMessage())
        .hasSize(StatusBudget.MAX_MESSAGE_CHARS);
  }

  @Test
  void theFallbackKeepsTheVerdictAndDropsEveryOutputField() {
    CodeExecutionStatus refused =
        finished(out("out"), out("err"), JSON.createObjectNode().put("x", 1));
    CodeExecutionStatus fallback = StatusBudget.fallback(refused, "HTTP 413 RequestEntityTooLarge");
    assertThat(fallback.getStdout()).isNull();
    assertThat(fallback.getStderr()).isNull();
    assertThat(fallback.getResult()).isNull();
    assertThat(fallback.getStdoutTruncated()).isTrue();
    assertThat(fallback.getStdoutBytes()).isEqualTo(3);
    assertThat(fallback.getExitCode()).isZero();
    assertThat(fallback.getCompletionTime()).isEqualTo(refused.getCompletionTime());
    assertThat(Conditions.reason(fallback.getConditions(), ConditionTypes.SUCCEEDED))
        .isEqualTo(CodeExecutionReason.COMPLETED.value());
    assertThat(fallback.getMessage())
        .contains("were not stored")
        .contains("HTTP 413 RequestEntityTooLarge");
    assertThat(refused.getStdout()).isEqualTo("out"); // a copy, not the original
  }

  @Test
  void refusalsForContentAreTellable() {
    assertThat(StatusBudget.refusedForContent(refusal(413, "RequestEntityTooLarge", "too large")))
        .isTrue();
    assertThat(
            StatusBudget.refusedForContent(refusal(422, "Invalid", "status.stdout: Invalid value")))
        .isTrue();
    assertThat(
            StatusBudget.refusedForContent(
                refusal(500, "InternalError", "etcdserver: request is too large")))
        .isTrue();
    assertThat(
            StatusBudget.refusedForContent(
                refusal(
                    500,
                    "InternalError",
                    "rpc error: code = ResourceExhausted desc = trying to send message larger than max (2500406 vs. 2097152)")))
        .isTrue();
    assertThat(StatusBudget.refusedForContent(refusal(500, "InternalError", "etcd leader changed")))
        .isFalse();
    assertThat(StatusBudget.refusedForContent(refusal(409, "Conflict", "too large"))).isFalse();
    // The description never quotes the server's message (it may hold the refused output).
    assertThat(
            StatusBudget.describeRefusal(
                refusal(422, "Invalid", "status.stdout: Invalid value: secret")))
        .isEqualTo("HTTP 422 Invalid");
  }

  private static KubernetesClientException refusal(int code, String reason, String message) {
    return new KubernetesClientException(
        new StatusBuilder().withCode(code).withReason(reason).withMessage(message).build());
  }

  private static StreamCapture out(String text) {
    return new StreamCapture(text, text.getBytes(StandardCharsets.UTF_8).length, false);
  }

  private static JsonNode bigResult(int chars, String unit) {
    ArrayNode array = JSON.createArrayNode();
    for (int i = 0; i < chars / 1000; i++) {
      array.add(unit.repeat(1000 / unit.length()));
    }
    return array;
  }

  private static CodeExecutionStatus finished(
      StreamCapture stdout, StreamCapture stderr, JsonNode result) {
    CodeExecution cx = TestResources.anExecution("ns", "x", "p");
    cx.getMetadata().setGeneration(1L);
    ExecutionOutcome outcome =
        new ExecutionOutcome(
            Termination.EXITED,
            0,
            stdout,
            stderr,
            new RunnerReport("ok", null, null, result, null),
            "sbx",
            T0,
            T0.plusSeconds(1),
            null);
    return CodeExecutionStatusCalculator.finished(
        cx, outcome, OutputLimitAction.TRUNCATE, Duration.ofSeconds(10), T0.plusSeconds(1));
  }
}
