package dev.sandboxes.operator.codeexecution;

import com.fasterxml.jackson.core.JacksonException;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionStatus;
import dev.sandboxes.operator.common.StatusWriter;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.Objects;
import java.util.Optional;

/**
 * CodeExecutions as the API server has them: complete reads (the informer cache holds pruned
 * copies, see {@link ExecutionCachePruning}) and status writes conditioned on the version read.
 */
final class ExecutionStore {

  /** What a complete read found. */
  sealed interface Read {}

  /** The object, with every field. */
  record Found(CodeExecution execution) implements Read {}

  /** Deleted, or deleted and created again under the same name (another uid). */
  record Gone() implements Read {}

  /**
   * Stored, but not readable as a CodeExecution (e.g. JSON nested deeper than the parser allows).
   */
  record Unreadable(String problem) implements Read {}

  private final KubernetesClient reads;
  private final KubernetesClient writes;

  /**
   * @param reads a client with the standard serialization, for complete copies
   * @param writes the informers' client: what it returns is pruned like the cache
   */
  ExecutionStore(KubernetesClient reads, KubernetesClient writes) {
    this.reads = reads;
    this.writes = writes;
  }

  /** The current, complete object with the uid of {@code cx}. */
  Read read(CodeExecution cx) {
    CodeExecution current;
    try {
      current =
          reads
              .resources(CodeExecution.class)
              .inNamespace(cx.getMetadata().getNamespace())
              .withName(cx.getMetadata().getName())
              .get();
    } catch (RuntimeException e) {
      String parseProblem = parseProblem(e);
      if (parseProblem == null) {
        throw e;
      }
      return new Unreadable(parseProblem);
    }
    if (current == null
        || !Objects.equals(current.getMetadata().getUid(), cx.getMetadata().getUid())) {
      return new Gone();
    }
    return new Found(current);
  }

  /**
   * One PUT of the status, conditioned on {@code base}'s resourceVersion; returns the stored object
   * (pruned like the cache). A 409 becomes a {@link StaleCopyException}; other errors are thrown.
   */
  CodeExecution replaceStatus(CodeExecution base, CodeExecutionStatus status) {
    Optional<CodeExecution> written =
        StatusWriter.replaceIfUnchanged(writes, base, status, CodeExecution::new);
    return written.orElseThrow(
        () ->
            new StaleCopyException(
                "CodeExecution "
                    + base.getMetadata().getNamespace()
                    + "/"
                    + base.getMetadata().getName()
                    + " changed since resourceVersion "
                    + base.getMetadata().getResourceVersion(),
                null));
  }

  /**
   * What is wrong with the content when a read failed on it rather than on the connection, else
   * null.
   */
  private static String parseProblem(Throwable e) {
    for (Throwable cause = e; cause != null; cause = cause.getCause()) {
      if (cause instanceof com.fasterxml.jackson.core.exc.StreamConstraintsException) {
        return "its JSON nests deeper than the parser's limit of "
            + com.fasterxml.jackson.core.StreamReadConstraints.defaults().getMaxNestingDepth()
            + " levels";
      }
      if (cause instanceof JacksonException json) {
        return "its JSON does not parse: " + json.getOriginalMessage();
      }
    }
    return null;
  }
}
