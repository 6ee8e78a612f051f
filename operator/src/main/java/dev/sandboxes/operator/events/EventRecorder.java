package dev.sandboxes.operator.events;

import dev.sandboxes.api.v1alpha1.Reason;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ObjectReferenceBuilder;
import io.fabric8.kubernetes.api.model.events.v1.Event;
import io.fabric8.kubernetes.api.model.events.v1.EventBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Kubernetes events with specific CamelCase reasons: the event reasons of the kinds' reason enums
 * ({@link dev.sandboxes.api.v1alpha1.CodeExecutionReason}, {@link
 * dev.sandboxes.api.v1alpha1.SandboxProviderReason}). Events are written off the reconcile path (a
 * small bounded queue; when it is full an event is dropped, never a reconcile delayed), and a
 * repeated (object, reason) within the dedup interval is written once.
 */
public class EventRecorder implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(EventRecorder.class);
  private static final String COMPONENT = "sandbox-operator";
  private static final DateTimeFormatter MICRO =
      DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'").withZone(ZoneOffset.UTC);

  /** Event type. */
  public enum Type {
    Normal,
    Warning
  }

  private final KubernetesClient client;
  private final Clock clock;
  private final Duration dedupInterval;
  private final Map<String, Instant> lastWritten = new ConcurrentHashMap<>();
  private final ThreadPoolExecutor writer;

  public EventRecorder(KubernetesClient client) {
    this(client, Clock.systemUTC(), Duration.ofMinutes(5));
  }

  public EventRecorder(KubernetesClient client, Clock clock, Duration dedupInterval) {
    this.client = client;
    this.clock = clock;
    this.dedupInterval = dedupInterval;
    this.writer =
        new ThreadPoolExecutor(
            1,
            2,
            30,
            TimeUnit.SECONDS,
            new ArrayBlockingQueue<>(2000),
            runnable -> {
              Thread thread = new Thread(runnable, "event-writer");
              thread.setDaemon(true);
              return thread;
            },
            new ThreadPoolExecutor.DiscardPolicy());
  }

  /**
   * Records an event about an object; the message must not contain code, output or secrets.
   *
   * @throws IllegalArgumentException if {@code reason} is not an event reason (a bug in the caller)
   */
  public void record(HasMetadata object, Type type, Reason reason, String message) {
    if (!reason.onEvents()) {
      throw new IllegalArgumentException(reason + " is not an event reason");
    }
    String key = object.getMetadata().getUid() + "/" + reason.value();
    Instant now = clock.instant();
    Instant previous = lastWritten.get(key);
    if (previous != null && Duration.between(previous, now).compareTo(dedupInterval) < 0) {
      return;
    }
    lastWritten.put(key, now);
    if (lastWritten.size() > 50_000) {
      lastWritten
          .entrySet()
          .removeIf(e -> Duration.between(e.getValue(), now).compareTo(dedupInterval) >= 0);
    }
    Event event = build(object, type, reason, message, now);
    writer.execute(() -> write(event));
  }

  /** Forgets dedup state of a deleted object. */
  public void forget(String uid) {
    lastWritten.keySet().removeIf(key -> key.startsWith(uid + "/"));
  }

  private Event build(HasMetadata object, Type type, Reason reason, String message, Instant now) {
    String namespace = object.getMetadata().getNamespace();
    return new EventBuilder()
        .withNewMetadata()
        .withNamespace(namespace)
        .withName(
            object.getMetadata().getName() + "." + UUID.randomUUID().toString().substring(0, 13))
        .endMetadata()
        .withType(type.name())
        .withReason(reason.value())
        .withNote(message.length() > 1000 ? message.substring(0, 997) + "..." : message)
        .withAction(reason.value())
        .withReportingController(COMPONENT)
        .withReportingInstance(COMPONENT)
        .withEventTime(
            new io.fabric8.kubernetes.api.model.MicroTime(
                MICRO.format(now.truncatedTo(ChronoUnit.MICROS))))
        .withRegarding(
            new ObjectReferenceBuilder()
                .withApiVersion(object.getApiVersion())
                .withKind(object.getKind())
                .withName(object.getMetadata().getName())
                .withNamespace(namespace)
                .withUid(object.getMetadata().getUid())
                .build())
        .build();
  }

  private void write(Event event) {
    try {
      client
          .events()
          .v1()
          .events()
          .inNamespace(event.getMetadata().getNamespace())
          .resource(event)
          .create();
    } catch (RuntimeException e) {
      // Best effort, also when the client is already closed (shutdown): an event never fails
      // anything.
      LOG.debug("event {} not written: {}", event.getReason(), e.getMessage());
    }
  }

  @Override
  public void close() {
    writer.shutdown();
    try {
      writer.awaitTermination(2, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
