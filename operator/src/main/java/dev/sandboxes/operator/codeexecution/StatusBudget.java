package dev.sandboxes.operator.codeexecution;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionStatus;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.util.Locale;

/**
 * Keeps a final status within what the API server can store beside the rest of the object. The
 * sizes are encoded sizes ({@link EncodedJsonSize}): output of control characters takes six times
 * its raw size. What does not fit goes in this order: the result first (a truncated JSON value
 * means nothing; a result of at most a quarter of the budget stays when output must be cut anyway),
 * then output, cut without splitting a character. When the server still rejects the status, {@link
 * #fallback} keeps the verdict and drops every output field.
 */
public final class StatusBudget {

  /** etcd's default --max-request-bytes: the largest object it stores. */
  public static final long OBJECT_LIMIT_BYTES = 1_572_864;

  /** Room for the etcd request around the object and for metadata that grows after the start. */
  static final long MARGIN_BYTES = 32 * 1024;

  /** A result of at most this fraction of the budget stays while output is cut. */
  static final int SMALL_RESULT_SHARE = 4;

  /** status.message and each condition message are cut to this many characters. */
  public static final int MAX_MESSAGE_CHARS = 4096;

  /** fabric8's own serialization: what the client sends is what gets measured. */
  private static final KubernetesSerialization JSON = new KubernetesSerialization();

  private StatusBudget() {}

  /** A status made to fit, and what was given up for it. */
  public record Fitted(CodeExecutionStatus status, boolean resultDropped, boolean outputCut) {}

  /**
   * The encoded size of an object without its status (metadata with managedFields, spec): a
   * complete read, or a cached copy that holds its inputs ({@link
   * ExecutionCachePruning#holdsInputs}), whose skipped managedFields are added as measured.
   */
  public static long storedBytesWithoutStatus(CodeExecution cx) {
    ObjectNode tree = JSON.convertValue(cx, ObjectNode.class);
    tree.remove("status");
    return EncodedJsonSize.of(tree) + ExecutionCachePruning.skippedManagedFieldsBytes(cx);
  }

  /** Bytes left for the status beside {@code storedBytesWithoutStatus}. */
  public static long statusBudget(long storedBytesWithoutStatus) {
    return Math.max(0, OBJECT_LIMIT_BYTES - MARGIN_BYTES - storedBytesWithoutStatus);
  }

  /** The encoded size of a status, with what managedFields will add for its result. */
  public static long encodedSize(CodeExecutionStatus status) {
    long size = EncodedJsonSize.of(JSON.convertValue(status, JsonNode.class));
    return status.getResult() == null
        ? size
        : size + EncodedJsonSize.managedFieldsOf(status.getResult());
  }

  /**
   * Cuts {@code status} (in place) to the budget left beside the rest of the object: messages to
   * {@link #MAX_MESSAGE_CHARS}, then the result, then stdout and stderr.
   */
  public static Fitted fit(CodeExecutionStatus status, long storedBytesWithoutStatus) {
    long budget = statusBudget(storedBytesWithoutStatus);
    capMessages(status);
    if (encodedSize(status) <= budget) {
      return new Fitted(status, false, false);
    }
    boolean resultDropped = false;
    if (status.getResult() != null) {
      JsonNode result = status.getResult();
      long resultSize = EncodedJsonSize.of(result);
      status.setResult(null);
      // The result goes first: a cut JSON value means nothing, cut output still does. But a small
      // result is not dropped in vain when the output has to be cut anyway.
      if (encodedSize(status) <= budget || resultSize > budget / SMALL_RESULT_SHARE) {
        resultDropped = true;
        appendToMessages(
            status,
            String.format(
                Locale.ROOT,
                "The result (%d bytes of JSON) did not fit in the status and was dropped; return a smaller value.",
                resultSize));
        if (encodedSize(status) <= budget) {
          return new Fitted(status, true, false);
        }
      } else {
        status.setResult(result);
      }
    }
    String stdout = orEmpty(status.getStdout());
    String stderr = orEmpty(status.getStderr());
    status.setStdout(null);
    status.setStderr(null);
    // Quotes and keys of the two fields, counted as if both stay.
    long frame =
        EncodedJsonSize.ofString("stdout") + EncodedJsonSize.ofString("stderr") + 2 * 3 + 4;
    String note =
        " Output was cut to fit the status; stdoutBytes and stderrBytes give the full size.";
    long available = budget - encodedSize(status) - frame - EncodedJsonSize.ofString(note) * 2;
    if (available < 0) {
      available = 0;
    }
    long stdoutSize = EncodedJsonSize.ofString(stdout) - 2;
    long stderrSize = EncodedJsonSize.ofString(stderr) - 2;
    // Each stream gets half; a stream that needs less leaves the rest to the other.
    long stdoutShare = Math.min(stdoutSize, Math.max(available / 2, available - stderrSize));
    long stderrShare = Math.min(stderrSize, available - stdoutShare);
    String keptStdout = EncodedJsonSize.prefixWithin(stdout, stdoutShare);
    String keptStderr = EncodedJsonSize.prefixWithin(stderr, stderrShare);
    boolean cut = keptStdout.length() < stdout.length() || keptStderr.length() < stderr.length();
    status.setStdout(keptStdout.isEmpty() ? null : keptStdout);
    status.setStderr(keptStderr.isEmpty() ? null : keptStderr);
    if (keptStdout.length() < stdout.length()) {
      status.setStdoutTruncated(true);
    }
    if (keptStderr.length() < stderr.length()) {
      status.setStderrTruncated(true);
    }
    if (cut) {
      appendToMessages(status, note.trim());
    }
    return new Fitted(status, resultDropped, cut);
  }

  /**
   * The status to write when the API server refused one: the same verdict, no stdout, stderr or
   * result, and a message that says so. {@code why} must not quote the refused content.
   */
  public static CodeExecutionStatus fallback(CodeExecutionStatus refused, String why) {
    CodeExecutionStatus status = JSON.convertValue(refused, CodeExecutionStatus.class);
    if (status.getStdout() != null) {
      status.setStdoutTruncated(true);
    }
    if (status.getStderr() != null) {
      status.setStderrTruncated(true);
    }
    status.setStdout(null);
    status.setStderr(null);
    status.setResult(null);
    capMessages(status);
    appendToMessages(
        status,
        "The output and the result were not stored: the API server refused the status ("
            + why
            + ").");
    return status;
  }

  /**
   * Whether the API server refused a status for its content (too large for it or for etcd, or
   * invalid), so that writing it again cannot help but a smaller one can.
   */
  public static boolean refusedForContent(KubernetesClientException e) {
    if (e.getCode() == 413 || e.getCode() == 422) {
      return true;
    }
    // Kubernetes 1.20 answers 500 for what etcd refuses: "etcdserver: request is too large" above
    // etcd's --max-request-bytes, "trying to send message larger than max" above the 2 MiB of its
    // gRPC client.
    String message =
        e.getStatus() != null && e.getStatus().getMessage() != null
            ? e.getStatus().getMessage()
            : e.getMessage();
    String lower = message == null ? "" : message.toLowerCase(Locale.ROOT);
    return e.getCode() == 500 && (lower.contains("too large") || lower.contains("larger than max"));
  }

  /** HTTP code and reason of a refusal; never the server's message, which may quote the output. */
  public static String describeRefusal(KubernetesClientException e) {
    String reason = e.getStatus() == null ? null : e.getStatus().getReason();
    return "HTTP " + e.getCode() + (reason == null || reason.isBlank() ? "" : " " + reason);
  }

  private static void capMessages(CodeExecutionStatus status) {
    status.setMessage(cap(status.getMessage()));
    if (status.getConditions() != null) {
      for (Condition condition : status.getConditions()) {
        condition.setMessage(cap(condition.getMessage()));
      }
    }
  }

  /** Adds a sentence to status.message and to the Succeeded condition's message. */
  private static void appendToMessages(CodeExecutionStatus status, String sentence) {
    status.setMessage(
        status.getMessage() == null ? sentence : status.getMessage() + " " + sentence);
    if (status.getConditions() != null) {
      status.getConditions().stream()
          .filter(c -> dev.sandboxes.api.v1alpha1.ConditionTypes.SUCCEEDED.equals(c.getType()))
          .forEach(
              c ->
                  c.setMessage(
                      c.getMessage() == null ? sentence : c.getMessage() + " " + sentence));
    }
  }

  private static String cap(String message) {
    if (message == null || message.length() <= MAX_MESSAGE_CHARS) {
      return message;
    }
    int end = MAX_MESSAGE_CHARS - 1;
    if (Character.isHighSurrogate(message.charAt(end - 1))) {
      end--;
    }
    return message.substring(0, end) + "…";
  }

  private static String orEmpty(String value) {
    return value == null ? "" : value;
  }
}
