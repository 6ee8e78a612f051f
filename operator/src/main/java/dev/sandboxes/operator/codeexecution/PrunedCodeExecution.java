package dev.sandboxes.operator.codeexecution;

import dev.sandboxes.api.ApiConstants;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionSpec;
import dev.sandboxes.api.v1alpha1.CodeExecutionStatus;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.Singular;
import io.fabric8.kubernetes.model.annotation.Version;

/**
 * A CodeExecution as the operator's informer cache holds it: without the fields that can be large
 * ({@link ExecutionCachePruning#PRUNED_FIELDS}). Its own class so that code which needs those
 * fields can tell it from a complete copy read from the API server, and so that a status built from
 * it cannot silently erase them (see {@link CodeExecutionStatusCalculator}).
 *
 * <p>It remembers, outside its JSON, what parsing skipped: whether any input (long code, arguments)
 * was left out, and how large its managedFields were. A copy made by re-encoding lacks that
 * knowledge and so never counts as holding its inputs; {@link #copyPruningStateTo} carries it over
 * (the operator's resource cloner does).
 */
@Group(ApiConstants.GROUP)
@Version(ApiConstants.VERSION)
@Kind(ApiConstants.KIND_CODE_EXECUTION)
@Plural("codeexecutions")
@Singular("codeexecution")
public class PrunedCodeExecution extends CodeExecution {

  /** Encoded size of the skipped managedFields; -1 until measured while parsing. */
  private long managedFieldsBytes = -1;

  private boolean inputsDropped;

  @Override
  public void setSpec(CodeExecutionSpec spec) {
    super.setSpec(spec);
    dropInputsOnceStarted();
  }

  @Override
  public void setStatus(CodeExecutionStatus status) {
    super.setStatus(status);
    dropInputsOnceStarted();
  }

  /** Whether its spec is whole: nothing of it skipped, and the skipped metadata measured. */
  boolean holdsInputs() {
    return !inputsDropped && managedFieldsBytes >= 0;
  }

  /** Encoded size of the managedFields skipped while parsing (0 when unknown). */
  long managedFieldsBytes() {
    return Math.max(0, managedFieldsBytes);
  }

  void measuredManagedFields(long bytes) {
    managedFieldsBytes = bytes;
  }

  void inputsDropped() {
    inputsDropped = true;
  }

  /** Gives {@code copy}, re-encoded from this one, what this one knows about its pruning. */
  void copyPruningStateTo(PrunedCodeExecution copy) {
    copy.managedFieldsBytes = managedFieldsBytes;
    copy.inputsDropped = inputsDropped;
    copy.dropInputsOnceStarted();
  }

  /**
   * The code is needed only to start: an execution that started (or finished) keeps none in the
   * cache, so the cache holds short code only for executions that wait.
   */
  private void dropInputsOnceStarted() {
    CodeExecutionStatus status = getStatus();
    CodeExecutionSpec spec = getSpec();
    if (spec == null || status == null || spec.getCode() == null) {
      return;
    }
    if (CodeExecutionStatusCalculator.isStarted(status)
        || CodeExecutionStatusCalculator.isTerminal(status)) {
      spec.setCode(null);
      inputsDropped = true;
    }
  }
}
