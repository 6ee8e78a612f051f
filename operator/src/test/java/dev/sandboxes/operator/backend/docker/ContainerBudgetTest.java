package dev.sandboxes.operator.backend.docker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.operator.backend.StartFailures;
import dev.sandboxes.operator.backend.pool.StartBackoff;
import dev.sandboxes.operator.backend.pool.WarmPool;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The container cap across the warm pools of a provider's languages, with in-memory containers. */
@Tag("unit")
class ContainerBudgetTest {

  private final ScheduledExecutorService maintenance = Executors.newScheduledThreadPool(2);
  private final Set<String> live = ConcurrentHashMap.newKeySet();
  private final AtomicInteger launched = new AtomicInteger();
  private final AtomicInteger capacitySignals = new AtomicInteger();

  private WarmPool.Sandboxes<String> containers(Language language) {
    return new WarmPool.Sandboxes<>() {
      @Override
      public String create() {
        String id = language.value() + "-" + launched.incrementAndGet();
        live.add(id);
        return id;
      }

      @Override
      public CompletableFuture<Void> destroyLater(String containerId) {
        return CompletableFuture.runAsync(() -> live.remove(containerId), maintenance);
      }
    };
  }

  @AfterEach
  void stop() {
    maintenance.shutdownNow();
  }

  @Test
  void claimsStopAtTheCapAcrossLanguagesAndNothingIsStartedForTheRest() {
    ContainerBudget budget = new ContainerBudget(3);
    WarmPool<String> python = pool(Language.PYTHON, budget);
    WarmPool<String> javascript = pool(Language.JAVASCRIPT, budget);
    python.start();
    javascript.start();
    await().until(() -> python.status().getReady() == 1 && javascript.status().getReady() == 1);

    // A crowd of waiting executions asks again and again, as the queue does when woken.
    List<String> claims = new ArrayList<>();
    for (int round = 0; round < 50; round++) {
      for (WarmPool<String> pool : List.of(python, javascript)) {
        pool.take().ifPresent(claims::add);
      }
      sleep(10);
    }
    assertThat(claims).hasSize(3);
    assertThat(budget.inUse()).isEqualTo(3);
    assertThat(python.status().getClaimed() + javascript.status().getClaimed()).isEqualTo(3);
    // At most the claimed ones plus the idle pools exist: no container per waiting request.
    await().until(() -> python.quiet() && javascript.quiet());
    assertThat(live).hasSizeLessThanOrEqualTo(3 + 2);

    // A run ends: its container is removed, and only then is the slot free and the queue told.
    String done = claims.get(0);
    WarmPool<String> owner = done.startsWith("python") ? python : javascript;
    int signals = capacitySignals.get();
    owner.finished(done);
    await()
        .until(
            () -> !live.contains(done) && budget.inUse() == 2 && capacitySignals.get() > signals);
    Optional<String> next = await().until(owner::take, Optional::isPresent);
    assertThat(next).isPresent();
    assertThat(budget.inUse()).isEqualTo(3);
  }

  @Test
  void aContainerGivenBackUnusedFreesItsSlotAtOnce() {
    ContainerBudget budget = new ContainerBudget(1);
    WarmPool<String> python = pool(Language.PYTHON, budget);
    python.start();
    String id = await().until(python::take, Optional::isPresent).get();
    assertThat(python.take()).isEmpty();
    python.giveBack(id);
    assertThat(budget.inUse()).isZero();
    assertThat(python.take()).contains(id);
  }

  private WarmPool<String> pool(Language language, ContainerBudget budget) {
    return new WarmPool<>(
        language,
        1,
        containers(language),
        WarmPool.Threads.of(maintenance),
        capacitySignals::incrementAndGet,
        budget,
        new StartFailures(text -> text),
        new StartBackoff());
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
