package dev.sandboxes.operator.codeexecution;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.Phase;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.operator.testing.TestResources;
import io.fabric8.kubernetes.api.model.KubernetesResourceList;
import io.fabric8.kubernetes.api.model.WatchEvent;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** What the informers' serialization keeps, drops and survives. */
@Tag("unit")
class ExecutionCachePruningTest {

  private final KubernetesSerialization pruning = ExecutionCachePruning.serialization();
  private final KubernetesSerialization plain = new KubernetesSerialization();

  @Test
  void dropsTheLargeFieldsAndKeepsWhatReconcilingNeeds() {
    CodeExecution cached =
        pruning.unmarshal(finishedJson("{\"x\":[1,2,{\"y\":true}]}"), CodeExecution.class);

    assertThat(cached).isInstanceOf(PrunedCodeExecution.class);
    assertThat(ExecutionCachePruning.isPruned(cached)).isTrue();
    assertThat(cached.getSpec().getCode()).isNull();
    assertThat(cached.getSpec().getArguments()).isNull();
    assertThat(cached.getStatus().getStdout()).isNull();
    assertThat(cached.getStatus().getStderr()).isNull();
    assertThat(cached.getStatus().getResult()).isNull();
    assertThat(cached.getMetadata().getManagedFields()).isEmpty();
    // What reconciling reads is still there.
    assertThat(cached.getMetadata().getName()).isEqualTo("done");
    assertThat(cached.getMetadata().getResourceVersion()).isEqualTo("42");
    assertThat(cached.getMetadata().getGeneration()).isEqualTo(1L);
    assertThat(cached.getSpec().getProviderRef().getName()).isEqualTo("p");
    assertThat(cached.getSpec().getLanguage()).isNotNull();
    assertThat(cached.getSpec().getTimeoutSeconds()).isEqualTo(7);
    assertThat(cached.getSpec().getTtlSecondsAfterFinished()).isEqualTo(60);
    assertThat(cached.getStatus().getConditions()).hasSize(1);
    assertThat(cached.getStatus().getCompletionTime()).isEqualTo("2026-01-01T00:00:01Z");
    assertThat(cached.getStatus().getStdoutBytes()).isEqualTo(5L);
    assertThat(cached.getStatus().getSandbox().getId()).isEqualTo("sbx-1");
    assertThat(cached.getKind()).isEqualTo("CodeExecution");
    assertThat(cached.getApiVersion()).isEqualTo("sandboxes.dev/v1alpha1");
  }

  @Test
  void dropsArgumentsGivenAsJsonTextToo() {
    String json =
        finishedJson("{\"x\":1}")
            .replace("\"arguments\":{\"x\":1}", "\"argumentsJSON\":\"{\\\"x\\\": null}\"");
    assertThat(json).contains("argumentsJSON");
    assertThat(pruning.unmarshal(json, CodeExecution.class).getSpec().getArgumentsJSON()).isNull();
    assertThat(plain.unmarshal(json, CodeExecution.class).getSpec().getArgumentsJSON())
        .isEqualTo("{\"x\": null}");
  }

  @Test
  void aPlainClientStillReadsEverything() {
    CodeExecution full = plain.unmarshal(finishedJson("{\"x\":1}"), CodeExecution.class);
    assertThat(ExecutionCachePruning.isPruned(full)).isFalse();
    assertThat(full.getSpec().getCode()).isEqualTo("def main(x): return x");
    assertThat(full.getStatus().getStdout()).isEqualTo("hello");
    assertThat(full.getMetadata().getManagedFields()).hasSize(1);
  }

  @Test
  void writesEveryFieldItIsGiven() {
    CodeExecution full = plain.unmarshal(finishedJson("{\"x\":1}"), CodeExecution.class);
    String written = pruning.asJson(full);
    assertThat(written)
        .contains(
            "\"code\":\"def main(x): return x\"",
            "\"arguments\":{\"x\":1}",
            "\"stdout\":\"hello\"",
            "\"result\":{\"r\":2}");
  }

  @Test
  void aCloneOfACachedCopyStaysPruned() {
    CodeExecution cached = pruning.unmarshal(finishedJson("{\"x\":1}"), CodeExecution.class);
    CodeExecution clone = pruning.clone(cached);
    assertThat(clone).isInstanceOf(PrunedCodeExecution.class);
    assertThat(clone.getStatus().getCompletionTime())
        .isEqualTo(cached.getStatus().getCompletionTime());
  }

  @Test
  void listsAndWatchEventsArePrunedToo() {
    String list =
        "{\"apiVersion\":\"sandboxes.dev/v1alpha1\",\"kind\":\"CodeExecutionList\",\"metadata\":{},"
            + "\"items\":["
            + finishedJson("{\"x\":1}")
            + "]}";
    KubernetesResourceList<CodeExecution> items =
        pruning.unmarshal(
            list,
            new com.fasterxml.jackson.core.type.TypeReference<
                io.fabric8.kubernetes.api.model.DefaultKubernetesResourceList<CodeExecution>>() {});
    assertThat(items.getItems()).singleElement().isInstanceOf(PrunedCodeExecution.class);

    // A watch event's object is untyped: read as the registered kind, not as a generic map first.
    int depth = 5000;
    String deep = "{\"a\":".repeat(depth) + "1" + "}".repeat(depth);
    WatchEvent event =
        pruning.unmarshal(
            "{\"type\":\"MODIFIED\",\"object\":" + finishedJson(deep) + "}", WatchEvent.class);
    assertThat(event.getObject()).isInstanceOf(PrunedCodeExecution.class);
    assertThat(((CodeExecution) event.getObject()).getStatus().getStdout()).isNull();
  }

  @Test
  void anArgumentObjectNestedDeeperThanJacksonsDefaultDoesNotMakeTheObjectUnreadable() {
    int depth = 5000;
    String deep = "{\"a\":".repeat(depth) + "1" + "}".repeat(depth);
    CodeExecution cached = pruning.unmarshal(finishedJson(deep), CodeExecution.class);
    assertThat(cached.getMetadata().getName()).isEqualTo("done");
    assertThat(cached.getSpec().getArguments()).isNull();
  }

  @Test
  void otherKindsLoseOnlyTheirManagedFields() {
    SandboxProvider provider = TestResources.aDockerProvider("ns", "p");
    provider
        .getMetadata()
        .setManagedFields(List.of(new io.fabric8.kubernetes.api.model.ManagedFieldsEntry()));
    SandboxProvider read = pruning.unmarshal(plain.asJson(provider), SandboxProvider.class);
    assertThat(read.getMetadata().getManagedFields()).isEmpty();
    assertThat(read.getSpec().getDocker().getHost())
        .isEqualTo(provider.getSpec().getDocker().getHost());
  }

  @Test
  void aWaitingExecutionWhoseShortCodeIsAllItsInputsIsHeldWhole() {
    String json = pendingJson("\"code\":\"print(1)\"", true);
    CodeExecution cached = pruning.unmarshal(json, CodeExecution.class);

    assertThat(ExecutionCachePruning.isPruned(cached)).isTrue();
    assertThat(ExecutionCachePruning.holdsInputs(cached)).isTrue();
    assertThat(cached.getSpec().getCode()).isEqualTo("print(1)");
    assertThat(cached.getMetadata().getManagedFields()).isEmpty();
    // The status budget sees the managedFields the cache skipped: never less than the stored ones.
    CodeExecution full = plain.unmarshal(json, CodeExecution.class);
    long stored = StatusBudget.storedBytesWithoutStatus(full);
    assertThat(StatusBudget.storedBytesWithoutStatus(cached)).isBetween(stored, stored + 64);
  }

  @Test
  void codeUpToTheLimitIsKeptAndLongerCodeIsSkipped() {
    String limit = "#".repeat(ExecutionCachePruning.MAX_CACHED_CODE_CHARS);
    CodeExecution kept =
        pruning.unmarshal(pendingJson("\"code\":\"" + limit + "\"", true), CodeExecution.class);
    assertThat(kept.getSpec().getCode()).isEqualTo(limit);
    assertThat(ExecutionCachePruning.holdsInputs(kept)).isTrue();

    CodeExecution skipped =
        pruning.unmarshal(pendingJson("\"code\":\"" + limit + "#\"", true), CodeExecution.class);
    assertThat(skipped.getSpec().getCode()).isNull();
    assertThat(ExecutionCachePruning.holdsInputs(skipped)).isFalse();
  }

  @Test
  void argumentsInEitherFormMeanTheCachedCopyLacksInputs() {
    for (String arguments :
        List.of("\"arguments\":{\"x\":1}", "\"argumentsJSON\":\"{\\\"x\\\": 1}\"")) {
      CodeExecution cached =
          pruning.unmarshal(
              pendingJson("\"code\":\"print(1)\"," + arguments, true), CodeExecution.class);
      assertThat(cached.getSpec().getArguments()).as(arguments).isNull();
      assertThat(cached.getSpec().getArgumentsJSON()).as(arguments).isNull();
      assertThat(ExecutionCachePruning.holdsInputs(cached)).as(arguments).isFalse();
    }
    // Code from a ConfigMap and no arguments: nothing skipped, the copy is whole.
    CodeExecution fromConfigMap =
        pruning.unmarshal(
            pendingJson("\"codeFrom\":{\"configMapKeyRef\":{\"name\":\"c\",\"key\":\"k\"}}", true),
            CodeExecution.class);
    assertThat(ExecutionCachePruning.holdsInputs(fromConfigMap)).isTrue();
  }

  @Test
  void withoutManagedFieldsToMeasureTheCachedCopyIsNotTakenAsWhole() {
    CodeExecution cached =
        pruning.unmarshal(pendingJson("\"code\":\"print(1)\"", false), CodeExecution.class);
    assertThat(cached.getSpec().getCode()).isEqualTo("print(1)");
    assertThat(ExecutionCachePruning.holdsInputs(cached)).isFalse();
  }

  @Test
  void anExecutionThatStartedKeepsNoCodeInTheCache() {
    String started =
        pendingJson("\"code\":\"print(1)\"", true)
            .replaceFirst(
                "}\\s*$",
                ",\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Started\","
                    + "\"status\":\"True\",\"reason\":\"Started\",\"lastTransitionTime\":"
                    + "\"2026-01-01T00:00:00Z\"}]}}");
    assertThat(plain.unmarshal(started, CodeExecution.class).getStatus().getPhase())
        .isEqualTo(Phase.RUNNING);
    CodeExecution cached = pruning.unmarshal(started, CodeExecution.class);
    assertThat(cached.getSpec().getCode()).isNull();
    assertThat(ExecutionCachePruning.holdsInputs(cached)).isFalse();
  }

  @Test
  void aReencodedCopyIsNeverTakenAsWholeButTheOperatorsClonerCarriesWhatItKnows() {
    CodeExecution whole =
        pruning.unmarshal(pendingJson("\"code\":\"print(1)\"", true), CodeExecution.class);
    assertThat(ExecutionCachePruning.holdsInputs(pruning.clone(whole))).isFalse();
    CodeExecution cloned = ExecutionCachePruning.cloner(pruning).clone(whole);
    assertThat(ExecutionCachePruning.holdsInputs(cloned)).isTrue();
    assertThat(cloned.getSpec().getCode()).isEqualTo("print(1)");
    assertThat(ExecutionCachePruning.skippedManagedFieldsBytes(cloned))
        .isEqualTo(ExecutionCachePruning.skippedManagedFieldsBytes(whole))
        .isPositive();

    // The case that matters: re-encoded, a copy whose arguments were skipped shows none at all.
    CodeExecution lacking =
        pruning.unmarshal(
            pendingJson(
                "\"codeFrom\":{\"configMapKeyRef\":{\"name\":\"c\",\"key\":\"k\"}},"
                    + "\"arguments\":{\"x\":1}",
                true),
            CodeExecution.class);
    assertThat(ExecutionCachePruning.holdsInputs(pruning.clone(lacking))).isFalse();
    assertThat(
            ExecutionCachePruning.holdsInputs(ExecutionCachePruning.cloner(pruning).clone(lacking)))
        .isFalse();
  }

  @Test
  void aWatchEventsCopyKnowsWhatWasSkippedToo() {
    WatchEvent whole =
        pruning.unmarshal(
            "{\"type\":\"ADDED\",\"object\":" + pendingJson("\"code\":\"pass\"", true) + "}",
            WatchEvent.class);
    assertThat(ExecutionCachePruning.holdsInputs((CodeExecution) whole.getObject())).isTrue();
    WatchEvent lacking =
        pruning.unmarshal(
            "{\"type\":\"ADDED\",\"object\":"
                + pendingJson("\"code\":\"pass\",\"arguments\":{\"x\":1}", true)
                + "}",
            WatchEvent.class);
    assertThat(ExecutionCachePruning.holdsInputs((CodeExecution) lacking.getObject())).isFalse();
  }

  /** A CodeExecution that waits, as the API server returns it, with these inputs. */
  static String pendingJson(String inputs, boolean managedFields) {
    return """
        {"apiVersion":"sandboxes.dev/v1alpha1","kind":"CodeExecution",
         "metadata":{"name":"waits","namespace":"ns","uid":"u-2","resourceVersion":"7","generation":1%s},
         "spec":{"providerRef":{"name":"p"},"language":"python",%s,"timeoutSeconds":7}}
        """
        .formatted(
            managedFields
                ? ",\"managedFields\":[{\"manager\":\"kubectl\",\"operation\":\"Update\","
                    + "\"apiVersion\":\"sandboxes.dev/v1alpha1\",\"time\":\"2026-01-01T00:00:00Z\","
                    + "\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:spec\":{\".\":{},"
                    + "\"f:code\":{},\"f:language\":{},\"f:providerRef\":{\".\":{},\"f:name\":{}}}}}]"
                : "",
            inputs);
  }

  /** A finished CodeExecution as the API server returns it, with these arguments. */
  static String finishedJson(String arguments) {
    return """
        {"apiVersion":"sandboxes.dev/v1alpha1","kind":"CodeExecution",
         "metadata":{"name":"done","namespace":"ns","uid":"u-1","resourceVersion":"42","generation":1,
           "managedFields":[{"manager":"kubectl","operation":"Update","apiVersion":"sandboxes.dev/v1alpha1",
             "fieldsType":"FieldsV1","fieldsV1":{"f:spec":{"f:arguments":{"f:x":{}}}}}]},
         "spec":{"providerRef":{"name":"p"},"language":"python","code":"def main(x): return x",
           "arguments":%s,"timeoutSeconds":7,"ttlSecondsAfterFinished":60},
         "status":{"observedGeneration":1,"phase":"Succeeded",
           "conditions":[{"type":"Succeeded","status":"True","reason":"Completed","message":"ok",
             "lastTransitionTime":"2026-01-01T00:00:01Z","observedGeneration":1}],
           "exitCode":0,"stdout":"hello","stderr":"warn","stdoutBytes":5,"stderrBytes":4,"result":{"r":2},
           "sandbox":{"provider":"p","type":"Docker","id":"sbx-1"},
           "startTime":"2026-01-01T00:00:00Z","completionTime":"2026-01-01T00:00:01Z"}}
        """
        .formatted(arguments);
  }
}
