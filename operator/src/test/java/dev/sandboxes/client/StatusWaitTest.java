package dev.sandboxes.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionStatus;
import dev.sandboxes.api.v1alpha1.Phase;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.fabric8.kubernetes.client.dsl.Resource;
import java.lang.reflect.Proxy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@link StatusWait} on a scripted resource: what it returns, and that every watch it opened is
 * closed when it returns.
 */
@Tag("unit")
class StatusWaitTest {

  private static final Predicate<CodeExecution> FINISHED =
      cx -> cx == null || Phase.SUCCEEDED.equals(phase(cx));

  /** One watch the wait opened: its watcher, and whether it was closed. */
  private static final class OpenedWatch implements Watch {
    final Watcher<CodeExecution> watcher;
    volatile boolean closed;

    OpenedWatch(Watcher<CodeExecution> watcher) {
      this.watcher = watcher;
    }

    @Override
    public void close() {
      closed = true;
    }
  }

  /**
   * A resource whose read returns {@code current} and whose watches are recorded and handed to
   * {@code onWatch} as they open.
   */
  private static final class ScriptedResource {
    final List<OpenedWatch> watches = new ArrayList<>();
    volatile CodeExecution current;
    Consumer<OpenedWatch> onWatch = w -> {};

    @SuppressWarnings("unchecked")
    Resource<CodeExecution> proxy() {
      return (Resource<CodeExecution>)
          Proxy.newProxyInstance(
              getClass().getClassLoader(),
              new Class<?>[] {Resource.class},
              (self, method, args) ->
                  switch (method.getName()) {
                    case "get" -> current;
                    case "watch" -> {
                      OpenedWatch w = new OpenedWatch((Watcher<CodeExecution>) args[0]);
                      watches.add(w);
                      onWatch.accept(w);
                      yield w;
                    }
                    default -> throw new UnsupportedOperationException(method.getName());
                  });
    }
  }

  @Test
  void anExecutionAlreadyFinishedAtTheFirstReadIsReturnedAndTheWatchClosed() throws Exception {
    ScriptedResource resource = new ScriptedResource();
    resource.current = execution(Phase.SUCCEEDED);

    CodeExecution got = StatusWait.until(resource.proxy(), FINISHED, Duration.ofSeconds(5));

    assertThat(phase(got)).isEqualTo(Phase.SUCCEEDED);
    assertThat(resource.watches).hasSize(1).allMatch(w -> w.closed);
  }

  @Test
  void theMatchingEventEndsTheWaitAndItsWatchIsClosedBeforeTheWaitReturns() throws Exception {
    ScriptedResource resource = new ScriptedResource();
    resource.current = execution(Phase.RUNNING);
    resource.onWatch =
        fromAnotherThread(
            watcher -> {
              watcher.eventReceived(Watcher.Action.MODIFIED, execution(Phase.RUNNING));
              watcher.eventReceived(Watcher.Action.MODIFIED, execution(Phase.SUCCEEDED));
            });

    CodeExecution got = StatusWait.until(resource.proxy(), FINISHED, Duration.ofSeconds(30));

    assertThat(phase(got)).isEqualTo(Phase.SUCCEEDED);
    assertThat(resource.watches).hasSize(1).allMatch(w -> w.closed);
  }

  @Test
  void aDeletionEndsTheWaitWithNull() throws Exception {
    ScriptedResource resource = new ScriptedResource();
    resource.current = execution(Phase.RUNNING);
    resource.onWatch =
        fromAnotherThread(
            watcher -> watcher.eventReceived(Watcher.Action.DELETED, execution(Phase.RUNNING)));

    assertThat(StatusWait.until(resource.proxy(), FINISHED, Duration.ofSeconds(30))).isNull();
    assertThat(resource.watches).allMatch(w -> w.closed);
  }

  @Test
  void aWatchTheServerEndsIsReplacedByANewOneThatReadsAgain() throws Exception {
    ScriptedResource resource = new ScriptedResource();
    resource.current = execution(Phase.RUNNING);
    resource.onWatch =
        w -> {
          if (resource.watches.size() == 1) {
            // The server ends the first watch (410 Gone) ...
            fromAnotherThread(watcher -> watcher.onClose(new WatcherException("410 Gone")))
                .accept(w);
          } else {
            // ... and the execution finished in between: only the new read can see it.
            resource.current = execution(Phase.SUCCEEDED);
          }
        };

    CodeExecution got = StatusWait.until(resource.proxy(), FINISHED, Duration.ofSeconds(30));

    assertThat(phase(got)).isEqualTo(Phase.SUCCEEDED);
    assertThat(resource.watches).hasSize(2).allMatch(w -> w.closed);
  }

  @Test
  void noMatchWithinTheLimitIsATimeoutAndStillClosesTheWatch() {
    ScriptedResource resource = new ScriptedResource();
    resource.current = execution(Phase.RUNNING);

    assertThatThrownBy(() -> StatusWait.until(resource.proxy(), FINISHED, Duration.ofMillis(100)))
        .isInstanceOf(TimeoutException.class);
    assertThat(resource.watches).hasSize(1).allMatch(w -> w.closed);
  }

  /** Delivers to each watch as it opens, as the server does: on a thread of its own. */
  private static Consumer<OpenedWatch> fromAnotherThread(
      Consumer<Watcher<CodeExecution>> delivery) {
    return w -> new Thread(() -> delivery.accept(w.watcher)).start();
  }

  private static CodeExecution execution(Phase phase) {
    CodeExecution cx = new CodeExecution();
    CodeExecutionStatus status = new CodeExecutionStatus();
    status.setPhase(phase);
    cx.setStatus(status);
    return cx;
  }

  private static Phase phase(CodeExecution cx) {
    return cx.getStatus() == null ? null : cx.getStatus().getPhase();
  }
}
