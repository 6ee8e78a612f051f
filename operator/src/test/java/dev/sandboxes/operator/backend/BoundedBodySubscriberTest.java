package dev.sandboxes.operator.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A response body is collected up to its bound; one byte more cancels the response and fails the
 * body.
 */
@Tag("unit")
class BoundedBodySubscriberTest {

  private final AtomicBoolean cancelled = new AtomicBoolean();
  private final Flow.Subscription subscription =
      new Flow.Subscription() {
        @Override
        public void request(long n) {}

        @Override
        public void cancel() {
          cancelled.set(true);
        }
      };

  @Test
  void aBodyWithinTheBoundIsCollectedWhole() throws Exception {
    BoundedBodySubscriber body = new BoundedBodySubscriber(10);
    body.onSubscribe(subscription);
    body.onNext(List.of(bytes("hello"), bytes(" ")));
    body.onNext(List.of(bytes("word")));
    body.onComplete();
    assertThat(
            new String(
                body.getBody().toCompletableFuture().get(1, TimeUnit.SECONDS),
                StandardCharsets.UTF_8))
        .isEqualTo("hello word");
    assertThat(cancelled).isFalse();
  }

  @Test
  void oneByteBeyondTheBoundCancelsTheResponse() {
    BoundedBodySubscriber body = new BoundedBodySubscriber(10);
    body.onSubscribe(subscription);
    body.onNext(List.of(bytes("hello")));
    body.onNext(List.of(bytes("world!")));
    body.onNext(List.of(bytes("ignored after the failure")));
    body.onComplete();
    assertThat(cancelled).isTrue();
    assertThatThrownBy(() -> body.getBody().toCompletableFuture().get(1, TimeUnit.SECONDS))
        .isInstanceOf(ExecutionException.class)
        .cause()
        .isInstanceOf(BoundedBodySubscriber.TooLarge.class)
        .hasMessage("the response is larger than 10 bytes");
  }

  @Test
  void aTransportErrorFailsTheBody() {
    BoundedBodySubscriber body = new BoundedBodySubscriber(10);
    body.onSubscribe(subscription);
    body.onError(new java.io.IOException("connection reset"));
    assertThatThrownBy(() -> body.getBody().toCompletableFuture().get(1, TimeUnit.SECONDS))
        .cause()
        .hasMessage("connection reset");
  }

  private static ByteBuffer bytes(String text) {
    return ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8));
  }
}
