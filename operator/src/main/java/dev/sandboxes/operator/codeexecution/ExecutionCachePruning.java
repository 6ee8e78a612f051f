package dev.sandboxes.operator.codeexecution;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionSpec;
import dev.sandboxes.api.v1alpha1.CodeExecutionStatus;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.util.List;

/**
 * The serialization of the client the operator's informers use: it skips, while parsing, every
 * field a tenant can make large, so that the cache holds only what reconciling needs and a
 * CodeExecution of 1.5 MiB never becomes megabytes of nested maps in the heap.
 *
 * <p>Skipped on read (still written when present): {@code spec.code}, {@code spec.arguments},
 * {@code spec.argumentsJSON}, {@code status.stdout}, {@code status.stderr}, {@code status.result},
 * and {@code metadata.managedFields} of every kind (for a CodeExecution they mirror every key of
 * the arguments). CodeExecutions are read as {@link PrunedCodeExecution}. Skipping is iterative, so
 * the nesting depth limit is raised to what the API server itself accepts: a deeply nested argument
 * object must not make the list of all CodeExecutions unreadable.
 */
public final class ExecutionCachePruning {

  /** The fields a cached CodeExecution never carries. */
  public static final List<String> PRUNED_FIELDS =
      List.of(
          "metadata.managedFields",
          "spec.code",
          "spec.arguments",
          "spec.argumentsJSON",
          "status.stdout",
          "status.stderr",
          "status.result");

  /** Deeper than the API server's own limit (10,000 levels in Go's encoding/json). */
  static final int MAX_NESTING_DEPTH = 20_000;

  private ExecutionCachePruning() {}

  /** A serialization that prunes as described above. */
  public static KubernetesSerialization serialization() {
    ObjectMapper mapper = new ObjectMapper();
    mapper
        .getFactory()
        .setStreamReadConstraints(
            StreamReadConstraints.builder().maxNestingDepth(MAX_NESTING_DEPTH).build());
    mapper.addMixIn(ObjectMeta.class, PrunedMetadata.class);
    mapper.addMixIn(CodeExecution.class, CachedAsPruned.class);
    mapper.addMixIn(CodeExecutionSpec.class, PrunedSpec.class);
    mapper.addMixIn(CodeExecutionStatus.class, PrunedStatus.class);
    KubernetesSerialization serialization = new KubernetesSerialization(mapper, true);
    // Watch events carry an untyped object: fabric8 reads kinds it does not know as a
    // GenericKubernetesResource, every nested map included, and converts that (recursively) to the
    // watched type. Known, a CodeExecution is read directly, skipping what is pruned.
    serialization.registerKubernetesResource(CodeExecution.class);
    serialization.registerKubernetesResource(SandboxProvider.class);
    return serialization;
  }

  /**
   * A client for the informers: same configuration as {@code full}, pruning serialization. The
   * caller closes it.
   */
  public static KubernetesClient informerClient(KubernetesClient full) {
    return new KubernetesClientBuilder()
        .withConfig(full.getConfiguration())
        .withKubernetesSerialization(serialization())
        .build();
  }

  /** Whether a copy lacks the pruned fields (it came from the cache, not from a read). */
  public static boolean isPruned(CodeExecution cx) {
    return cx instanceof PrunedCodeExecution;
  }

  // ignoreUnknown repeats fabric8's own class-level setting, which a mix-in annotation replaces.
  @JsonIgnoreProperties(
      value = {"managedFields"},
      allowGetters = true,
      ignoreUnknown = true)
  private abstract static class PrunedMetadata {}

  @JsonDeserialize(as = PrunedCodeExecution.class)
  private abstract static class CachedAsPruned {}

  @JsonIgnoreProperties(
      value = {"code", "arguments", "argumentsJSON"},
      allowGetters = true,
      ignoreUnknown = true)
  private abstract static class PrunedSpec {}

  @JsonIgnoreProperties(
      value = {"stdout", "stderr", "result"},
      allowGetters = true,
      ignoreUnknown = true)
  private abstract static class PrunedStatus {}
}
