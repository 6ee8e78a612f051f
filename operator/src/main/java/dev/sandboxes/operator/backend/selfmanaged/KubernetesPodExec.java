package dev.sandboxes.operator.backend.selfmanaged;

import io.fabric8.kubernetes.api.model.Status;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.ExecListener;
import io.fabric8.kubernetes.client.dsl.ExecWatch;
import java.io.IOException;
import java.io.OutputStream;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/** {@link PodExec} over fabric8's websocket exec (pods/exec). */
final class KubernetesPodExec implements PodExec {

  /** How long after the exit status the websocket may take to close (and flush output). */
  private static final Duration CLOSE_GRACE = Duration.ofSeconds(2);

  private final KubernetesClient client;

  KubernetesPodExec(KubernetesClient client) {
    this.client = client;
  }

  @Override
  public Running start(
      String namespace,
      String pod,
      String container,
      List<String> command,
      byte[] stdin,
      OutputStream stdout,
      OutputStream stderr) {
    return open(namespace, pod, container, command, stdout, stderr).send(stdin);
  }

  @Override
  public Waiting open(
      String namespace,
      String pod,
      String container,
      List<String> command,
      OutputStream stdout,
      OutputStream stderr) {
    CompletableFuture<Integer> done = new CompletableFuture<>();
    AtomicReference<Integer> exit = new AtomicReference<>();
    AtomicReference<String> failure = new AtomicReference<>();
    ExecListener listener =
        new ExecListener() {
          @Override
          public void onExit(int code, Status status) {
            exit.set(code);
            if (code < 0 && status != null) {
              failure.set(status.getMessage());
            }
            if (code >= 0) {
              // The close normally follows at once; should it never come, the exit code still
              // counts.
              CompletableFuture.delayedExecutor(CLOSE_GRACE.toMillis(), TimeUnit.MILLISECONDS)
                  .execute(() -> done.complete(code));
            }
          }

          @Override
          public void onFailure(Throwable t, Response response) {
            done.completeExceptionally(new StreamBrokenException(describe(t), t));
          }

          // fabric8 writes output to the sinks on a serial executor and calls onClose on it after
          // the last write, whereas its own exit-code future may complete before output is flushed.
          @Override
          public void onClose(int code, String reason) {
            Integer value = exit.get();
            if (value != null && value >= 0) {
              done.complete(value);
            } else {
              String why =
                  failure.get() != null
                      ? failure.get()
                      : "the stream closed without an exit status (websocket close "
                          + code
                          + (reason == null || reason.isBlank() ? "" : ": " + reason)
                          + ")";
              done.completeExceptionally(new StreamBrokenException(why, null));
            }
          }
        };
    ExecWatch watch =
        client
            .pods()
            .inNamespace(namespace)
            .withName(pod)
            .inContainer(container)
            .redirectingInput()
            .writingOutput(stdout)
            .writingError(stderr)
            .usingListener(listener)
            .exec(command.toArray(String[]::new));
    Running running =
        new Running() {
          @Override
          public CompletableFuture<Integer> exitCode() {
            return done;
          }

          @Override
          public void close() {
            watch.close();
          }
        };
    return new Waiting() {
      @Override
      public boolean alive() {
        return !done.isDone();
      }

      @Override
      public Running send(byte[] stdin) {
        try {
          OutputStream input = watch.getInput();
          input.write(stdin);
          input.flush();
        } catch (IOException | RuntimeException e) {
          done.completeExceptionally(
              new StreamBrokenException(
                  "sending the program to the sandbox failed: " + describe(e), e));
        }
        return running;
      }

      @Override
      public void close() {
        watch.close();
      }
    };
  }

  private static String describe(Throwable t) {
    Throwable root = t;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    return root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
  }
}
