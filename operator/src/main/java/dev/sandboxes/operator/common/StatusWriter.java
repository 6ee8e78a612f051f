package dev.sandboxes.operator.common;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * Writes a primary's whole status with one PUT on /status, conditioned on the resourceVersion of
 * the copy the status was computed from.
 *
 * <p>Why a PUT and not a merge patch: conditions are a list, and a JSON merge patch of a list must
 * replace it; fabric8's mock server appends instead, and server-side apply is beta on Kubernetes
 * 1.20. Why no retry here: re-applying a precomputed status on a newer copy is how a second writer
 * gets overwritten (JOSDK's updateAndCacheResource does exactly that on a 409). A conflict goes
 * back to the caller, which re-reads the object and decides again.
 */
public final class StatusWriter {

  private static final int OVERWRITE_ATTEMPTS = 5;

  private StatusWriter() {}

  /**
   * One PUT of {@code status} on {@code base}'s resourceVersion. Returns what the API server
   * stored, or empty when the object changed since {@code base} was read (409). Other errors are
   * thrown, 404 included.
   */
  public static <S, P extends CustomResource<?, S>> Optional<P> replaceIfUnchanged(
      KubernetesClient client, P base, S status, Supplier<P> newInstance) {
    P fresh = newInstance.get();
    fresh.setMetadata(
        new ObjectMetaBuilder()
            .withName(base.getMetadata().getName())
            .withNamespace(base.getMetadata().getNamespace())
            .withUid(base.getMetadata().getUid())
            .withResourceVersion(base.getMetadata().getResourceVersion())
            .withGeneration(base.getMetadata().getGeneration())
            .build());
    // The server ignores everything but the status on /status; the spec only keeps the mock
    // server's copy whole.
    setSpec(fresh, base);
    fresh.setStatus(status);
    try {
      return Optional.of(client.resource(fresh).updateStatus());
    } catch (KubernetesClientException e) {
      if (e.getCode() == 409) {
        return Optional.empty();
      }
      throw e;
    }
  }

  /**
   * For statuses that are observations, where the latest one may win (a provider's probe result):
   * on a conflict, reads the object again and puts the same status on the new copy.
   */
  public static <S, P extends CustomResource<?, S>> P overwrite(
      P primary, Context<P> context, S status, Supplier<P> newInstance) {
    P base = primary;
    for (int attempt = 1; ; attempt++) {
      Optional<P> written = replaceIfUnchanged(context.getClient(), base, status, newInstance);
      if (written.isPresent()) {
        remember(context, base, written.get());
        return written.get();
      }
      P current = context.getClient().resource(base).get();
      if (current == null) {
        throw new KubernetesClientException("gone while its status was written", 404, null);
      }
      if (attempt == OVERWRITE_ATTEMPTS) {
        throw new KubernetesClientException(
            "the status of "
                + base.getMetadata().getNamespace()
                + "/"
                + base.getMetadata().getName()
                + " changed under "
                + OVERWRITE_ATTEMPTS
                + " writes in a row",
            409,
            null);
      }
      base = current;
    }
  }

  /**
   * Lets the next reconcile see a status just written even before the informer delivers it (JOSDK's
   * temporary resource cache; kept only while the cache still holds {@code base}'s version).
   */
  public static <P extends HasMetadata> void remember(Context<P> context, P base, P written) {
    var sources = context.eventSourceRetriever();
    if (sources != null) {
      sources
          .getControllerEventSource()
          .handleRecentResourceUpdate(ResourceID.fromResource(base), written, base);
    }
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private static void setSpec(CustomResource fresh, CustomResource base) {
    fresh.setSpec(base.getSpec());
  }
}
