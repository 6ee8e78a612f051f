package dev.sandboxes.operator.codeexecution;

import dev.sandboxes.api.ApiConstants;
import dev.sandboxes.api.v1alpha1.CodeExecution;
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
 */
@Group(ApiConstants.GROUP)
@Version(ApiConstants.VERSION)
@Kind(ApiConstants.KIND_CODE_EXECUTION)
@Plural("codeexecutions")
@Singular("codeexecution")
public class PrunedCodeExecution extends CodeExecution {}
