package dev.sandboxes.operator.codeexecution;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.operator.testing.FakeSandboxBackend;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class ExecutionQueueTest {

  private final List<String> woken = new CopyOnWriteArrayList<>();
  private final ExecutionQueue queue = new ExecutionQueue(id -> woken.add(id.getName()));

  @Test
  void oldestOfALanguageGoesFirst() {
    FakeSandboxBackend backend = new FakeSandboxBackend(0);
    ExecutionQueue.Entry old = entry("old", 1, Language.PYTHON);
    ExecutionQueue.Entry young = entry("young", 2, Language.PYTHON);
    assertThat(queue.admit("p", old, backend, null)).isInstanceOf(ExecutionQueue.Waiting.class);
    backend.addCapacity(1);
    // The younger one asks first, but the older one waits: the younger keeps waiting and the older
    // is woken.
    assertThat(queue.admit("p", young, backend, null)).isInstanceOf(ExecutionQueue.Waiting.class);
    assertThat(woken).contains("old");
    assertThat(queue.admit("p", old, backend, null)).isInstanceOf(ExecutionQueue.Granted.class);
    assertThat(queue.waiting("p")).isEqualTo(1);
  }

  @Test
  void languagesDoNotBlockEachOther() {
    FakeSandboxBackend backend = new FakeSandboxBackend(1);
    assertThat(queue.admit("p", entry("py", 1, Language.PYTHON), backend, null))
        .isInstanceOf(ExecutionQueue.Granted.class);
    FakeSandboxBackend empty = new FakeSandboxBackend(0);
    queue.admit("q", entry("old-py", 1, Language.PYTHON), empty, null);
    empty.addCapacity(1);
    assertThat(queue.admit("q", entry("js", 2, Language.JAVASCRIPT), empty, null))
        .isInstanceOf(ExecutionQueue.Granted.class);
  }

  @Test
  void concurrencyLimitHoldsAndReleaseWakesTheNext() {
    FakeSandboxBackend backend = new FakeSandboxBackend(10);
    assertThat(queue.admit("p", entry("a", 1, Language.PYTHON), backend, 1))
        .isInstanceOf(ExecutionQueue.Granted.class);
    assertThat(queue.admit("p", entry("b", 2, Language.PYTHON), backend, 1))
        .isInstanceOf(ExecutionQueue.Waiting.class);
    woken.clear();
    queue.release("p", "uid-a");
    assertThat(woken).containsExactly("b");
    assertThat(queue.admit("p", entry("b", 2, Language.PYTHON), backend, 1))
        .isInstanceOf(ExecutionQueue.Granted.class);
    assertThat(queue.running("p")).isEqualTo(1);
  }

  @Test
  void aSandboxIsNeverGrantedTwiceUnderContention() throws Exception {
    FakeSandboxBackend backend = new FakeSandboxBackend(5);
    ExecutorService pool = Executors.newFixedThreadPool(8);
    AtomicInteger granted = new AtomicInteger();
    CountDownLatch start = new CountDownLatch(1);
    List<ExecutionQueue.Entry> entries = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      entries.add(entry("e" + i, i, Language.PYTHON));
    }
    for (ExecutionQueue.Entry e : entries) {
      pool.execute(
          () -> {
            try {
              start.await();
              for (int attempt = 0; attempt < 20; attempt++) {
                if (queue.admit("p", e, backend, null) instanceof ExecutionQueue.Granted) {
                  granted.incrementAndGet();
                  return;
                }
              }
            } catch (InterruptedException ignored) {
              Thread.currentThread().interrupt();
            }
          });
    }
    start.countDown();
    pool.shutdown();
    assertThat(pool.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
    assertThat(granted.get()).isEqualTo(5);
  }

  @Test
  void removedExecutionsFreeTheirPlace() {
    FakeSandboxBackend backend = new FakeSandboxBackend(0);
    queue.admit("p", entry("gone", 1, Language.PYTHON), backend, null);
    queue.admit("p", entry("next", 2, Language.PYTHON), backend, null);
    woken.clear();
    queue.remove("uid-gone");
    assertThat(woken).containsExactly("next");
    assertThat(queue.waiting("p")).isEqualTo(1);
  }

  private static ExecutionQueue.Entry entry(String name, int second, Language language) {
    return new ExecutionQueue.Entry(
        new ResourceID(name, "ns"), "uid-" + name, Instant.ofEpochSecond(second), language);
  }
}
