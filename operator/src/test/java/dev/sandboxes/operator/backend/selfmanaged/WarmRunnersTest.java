package dev.sandboxes.operator.backend.selfmanaged;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.sandboxes.api.v1alpha1.Language;
import java.io.OutputStream;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Who owns a pre-started runner while its exec is still being opened: the execution that claimed
 * the pod waits for it (a fresh exec beside it would load a second interpreter on the pod's small
 * CPU share), and a runner nobody will use is closed as soon as it arrives.
 */
@Tag("unit")
class WarmRunnersTest {

  private static final String POD = "sbx-pool-py-abc";

  private final ExecutorService threads = Executors.newCachedThreadPool();
  private final GatedExec exec = new GatedExec();

  @AfterEach
  void stopThreads() {
    exec.gate.countDown();
    threads.shutdownNow();
  }

  private WarmRunners runners(Duration openingWait) {
    return new WarmRunners(exec, "ns", language -> List.of("runner"), threads, openingWait);
  }

  @Test
  void anExecutionWaitsForTheRunnerStillBeingOpenedAndGetsIt() throws Exception {
    WarmRunners runners = runners(Duration.ofSeconds(30));
    runners.ensure(POD, Language.PYTHON);
    await().atMost(Duration.ofSeconds(10)).until(() -> exec.opensStarted.getCount() == 0);

    CompletableFuture<Optional<WarmRunners.Warm>> taken =
        CompletableFuture.supplyAsync(() -> runners.take(POD), threads);
    Thread.sleep(200); // still opening: the taker must be waiting, not falling back
    assertThat(taken).isNotDone();

    exec.gate.countDown();
    Optional<WarmRunners.Warm> warm = taken.get(10, TimeUnit.SECONDS);
    assertThat(warm).isPresent();
    assertThat(warm.get().waiting()).isSameAs(exec.opened.get(0));
    assertThat(exec.opened.get(0).closed).isFalse();
    assertThat(exec.opened).hasSize(1);
  }

  @Test
  void aRunnerThatFailsToOpenSendsTheExecutionToAFreshExecAtOnce() throws Exception {
    exec.failing = true;
    WarmRunners runners = runners(Duration.ofSeconds(30));
    runners.ensure(POD, Language.PYTHON);
    await().atMost(Duration.ofSeconds(10)).until(() -> exec.opensStarted.getCount() == 0);

    CompletableFuture<Optional<WarmRunners.Warm>> taken =
        CompletableFuture.supplyAsync(() -> runners.take(POD), threads);
    exec.gate.countDown();
    assertThat(taken.get(10, TimeUnit.SECONDS)).isEmpty();
  }

  @Test
  void aRunnerStillOpeningAfterTheWaitIsClosedWhenItArrives() throws Exception {
    WarmRunners runners = runners(Duration.ofMillis(100));
    runners.ensure(POD, Language.PYTHON);
    await().atMost(Duration.ofSeconds(10)).until(() -> exec.opensStarted.getCount() == 0);

    assertThat(runners.take(POD)).isEmpty();
    exec.gate.countDown();
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> exec.opened.size() == 1 && exec.opened.get(0).closed);
    assertThat(runners.waiting()).isZero();
  }

  @Test
  void aPodDeletedWhileItsRunnerOpensHasThatRunnerClosed() {
    WarmRunners runners = runners(Duration.ofSeconds(30));
    runners.ensure(POD, Language.PYTHON);
    await().atMost(Duration.ofSeconds(10)).until(() -> exec.opensStarted.getCount() == 0);

    runners.forget(POD);
    exec.gate.countDown();
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> exec.opened.size() == 1 && exec.opened.get(0).closed);
    assertThat(runners.waiting()).isZero();
  }

  @Test
  void aTakenPodGetsNoOtherRunner() {
    exec.gate.countDown();
    WarmRunners runners = runners(Duration.ofSeconds(30));
    runners.ensure(POD, Language.PYTHON);
    await().atMost(Duration.ofSeconds(10)).until(() -> runners.waiting() == 1);

    assertThat(runners.take(POD)).isPresent();
    runners.ensure(POD, Language.PYTHON);
    assertThat(runners.take(POD)).isEmpty();
    assertThat(exec.opened).hasSize(1);
  }

  @Test
  void onlyAnOpenLiveUntakenRunnerCountsAsWaiting() {
    WarmRunners runners = runners(Duration.ofSeconds(30));
    assertThat(runners.hasWaiting(POD)).isFalse();
    runners.ensure(POD, Language.PYTHON);
    await().atMost(Duration.ofSeconds(10)).until(() -> exec.opensStarted.getCount() == 0);
    assertThat(runners.hasWaiting(POD)).as("still opening").isFalse();

    exec.gate.countDown();
    await().atMost(Duration.ofSeconds(10)).until(() -> runners.hasWaiting(POD));
    exec.opened.get(0).closed = true;
    assertThat(runners.hasWaiting(POD)).as("its stream ended").isFalse();

    runners.forget(POD);
    runners.ensure(POD, Language.PYTHON);
    await().atMost(Duration.ofSeconds(10)).until(() -> runners.hasWaiting(POD));
    assertThat(runners.take(POD)).isPresent();
    assertThat(runners.hasWaiting(POD)).as("taken").isFalse();
  }

  /** Opens block until the gate opens, as an exec the API server has not upgraded yet. */
  private static final class GatedExec implements PodExec {
    final CountDownLatch gate = new CountDownLatch(1);
    final CountDownLatch opensStarted = new CountDownLatch(1);
    final List<FakeWaiting> opened = new CopyOnWriteArrayList<>();
    volatile boolean failing;

    @Override
    public Running start(
        String namespace,
        String pod,
        String container,
        List<String> command,
        byte[] stdin,
        OutputStream stdout,
        OutputStream stderr) {
      throw new UnsupportedOperationException("no fresh execs here");
    }

    @Override
    public Waiting open(
        String namespace,
        String pod,
        String container,
        List<String> command,
        OutputStream stdout,
        OutputStream stderr) {
      opensStarted.countDown();
      try {
        gate.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      if (failing) {
        throw new IllegalStateException("upgrade refused");
      }
      FakeWaiting waiting = new FakeWaiting();
      opened.add(waiting);
      return waiting;
    }
  }

  private static final class FakeWaiting implements PodExec.Waiting {
    volatile boolean closed;

    @Override
    public boolean alive() {
      return !closed;
    }

    @Override
    public PodExec.Running send(byte[] stdin) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void close() {
      closed = true;
    }
  }
}
