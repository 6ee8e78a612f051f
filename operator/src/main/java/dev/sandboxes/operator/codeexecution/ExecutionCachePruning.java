package dev.sandboxes.operator.codeexecution;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonStreamContext;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionSpec;
import dev.sandboxes.api.v1alpha1.CodeExecutionStatus;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ManagedFieldsEntry;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.javaoperatorsdk.operator.api.config.Cloner;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The serialization of the client the operator's informers use: it skips, while parsing, every
 * field a tenant can make large, so that the cache holds only what reconciling needs and a
 * CodeExecution of 1.5 MiB never becomes megabytes of nested maps in the heap.
 *
 * <p>Skipped on read (still written when present): {@code spec.code} longer than {@link
 * #MAX_CACHED_CODE_CHARS}, {@code spec.arguments}, {@code spec.argumentsJSON}, {@code
 * status.stdout}, {@code status.stderr}, {@code status.result}, and {@code metadata.managedFields}
 * of every kind (for a CodeExecution they mirror every key of the arguments). CodeExecutions are
 * read as {@link PrunedCodeExecution}s, which know what was skipped: one whose short code is all
 * its inputs can be started without reading it again (see {@link #holdsInputs}). Its code is
 * dropped once its status says it started. Skipping is iterative, so the nesting depth limit is
 * raised to what the API server itself accepts: a deeply nested argument object must not make the
 * list of all CodeExecutions unreadable.
 */
public final class ExecutionCachePruning {

  /** The fields a cached CodeExecution never carries (spec.code: unless short, and not started). */
  public static final List<String> PRUNED_FIELDS =
      List.of(
          "metadata.managedFields",
          "spec.code",
          "spec.arguments",
          "spec.argumentsJSON",
          "status.stdout",
          "status.stderr",
          "status.result");

  /**
   * Longest code a pending execution keeps in the cache: so much for each pending execution at
   * most, and what saves the read before its start (one API round trip on the hot path).
   */
  public static final int MAX_CACHED_CODE_CHARS = 4096;

  /** {@code "managedFields":} and the comma before it. */
  private static final long MANAGED_FIELDS_KEY_BYTES =
      EncodedJsonSize.ofString("managedFields") + 2;

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

  /**
   * JOSDK's resource cloner for the informers' serialization: a clone of a cached CodeExecution
   * keeps what the original knows about its pruning (without it, the clone would read it again).
   */
  public static Cloner cloner(KubernetesSerialization serialization) {
    return new Cloner() {
      @Override
      public <R extends HasMetadata> R clone(R object) {
        R copy = serialization.clone(object);
        if (object instanceof PrunedCodeExecution original
            && copy instanceof PrunedCodeExecution cloned) {
          original.copyPruningStateTo(cloned);
        }
        return copy;
      }
    };
  }

  /** Whether a copy lacks the pruned fields (it came from the cache, not from a read). */
  public static boolean isPruned(CodeExecution cx) {
    return cx instanceof PrunedCodeExecution;
  }

  /**
   * Whether a copy holds every input of its execution: a complete read, or a cached copy that
   * skipped nothing of its spec (its code short, no arguments) and measured its managedFields. Such
   * a copy can be validated and started as it is.
   */
  public static boolean holdsInputs(CodeExecution cx) {
    return !(cx instanceof PrunedCodeExecution pruned) || pruned.holdsInputs();
  }

  /** Encoded bytes of the managedFields a cached copy skipped (0 for a complete read). */
  public static long skippedManagedFieldsBytes(CodeExecution cx) {
    return cx instanceof PrunedCodeExecution pruned ? pruned.managedFieldsBytes() : 0;
  }

  /** The CodeExecution whose fields the parser is in, or null (another kind). */
  private static PrunedCodeExecution enclosingExecution(JsonParser p) {
    for (JsonStreamContext context = p.getParsingContext();
        context != null;
        context = context.getParent()) {
      if (context.getCurrentValue() instanceof PrunedCodeExecution execution) {
        return execution;
      }
    }
    return null;
  }

  /**
   * Skips the value at the parser's current token, returning about how many bytes it takes in the
   * API server's encoding (separators counted once per value). Iterative, whatever the nesting.
   */
  private static long skipCounting(JsonParser p) throws IOException {
    long bytes = 0;
    int depth = 0;
    do {
      JsonToken token = p.currentToken();
      bytes +=
          switch (token) {
            case START_OBJECT, START_ARRAY -> {
              depth++;
              yield 1;
            }
            case END_OBJECT, END_ARRAY -> {
              depth--;
              yield 2; // the bracket and a separator after it
            }
            case FIELD_NAME -> EncodedJsonSize.ofString(p.currentName()) + 1;
            case VALUE_STRING -> EncodedJsonSize.ofString(p.getText()) + 1;
            default -> p.getTextLength() + 1;
          };
    } while (depth > 0 && p.nextToken() != null);
    return bytes;
  }

  /** Skips managedFields; a CodeExecution's non-empty ones are measured (its status budget). */
  private static final class ManagedFieldsSkipper
      extends JsonDeserializer<List<ManagedFieldsEntry>> {
    @Override
    public List<ManagedFieldsEntry> deserialize(JsonParser p, DeserializationContext context)
        throws IOException {
      PrunedCodeExecution execution = enclosingExecution(p);
      long bytes = skipCounting(p);
      // "[]" (2 + 1 bytes) is what a re-encoded cached copy holds, never what the server sends:
      // it measures nothing, so a copy cloned without its pruning state never looks complete.
      if (execution != null && bytes > 3) {
        execution.measuredManagedFields(MANAGED_FIELDS_KEY_BYTES + bytes);
      }
      return new ArrayList<>();
    }
  }

  /** Keeps short code; longer code is skipped, and the execution knows it lacks its input. */
  private static final class ShortCodeOnly extends JsonDeserializer<String> {
    @Override
    public String deserialize(JsonParser p, DeserializationContext context) throws IOException {
      if (p.getTextLength() <= MAX_CACHED_CODE_CHARS) {
        return p.getText();
      }
      inputSkipped(p);
      return null;
    }
  }

  /** Skips an input (arguments in either form); the execution knows it lacks it. */
  private static final class SkippedInput extends JsonDeserializer<Object> {
    @Override
    public Object deserialize(JsonParser p, DeserializationContext context) throws IOException {
      inputSkipped(p);
      p.skipChildren();
      return null;
    }
  }

  private static void inputSkipped(JsonParser p) {
    PrunedCodeExecution execution = enclosingExecution(p);
    if (execution != null) {
      execution.inputsDropped();
    }
  }

  // ignoreUnknown repeats fabric8's own class-level setting, which a mix-in annotation replaces.
  @JsonIgnoreProperties(ignoreUnknown = true)
  private abstract static class PrunedMetadata {
    @JsonDeserialize(using = ManagedFieldsSkipper.class)
    abstract void setManagedFields(List<ManagedFieldsEntry> managedFields);
  }

  @JsonDeserialize(as = PrunedCodeExecution.class)
  private abstract static class CachedAsPruned {}

  @JsonIgnoreProperties(ignoreUnknown = true)
  private abstract static class PrunedSpec {
    @JsonDeserialize(using = ShortCodeOnly.class)
    abstract void setCode(String code);

    @JsonDeserialize(using = SkippedInput.class)
    abstract void setArguments(Map<String, Object> arguments);

    @JsonDeserialize(using = SkippedInput.class)
    abstract void setArgumentsJSON(String argumentsJSON);
  }

  @JsonIgnoreProperties(
      value = {"stdout", "stderr", "result"},
      allowGetters = true,
      ignoreUnknown = true)
  private abstract static class PrunedStatus {}
}
