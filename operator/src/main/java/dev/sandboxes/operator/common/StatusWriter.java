package dev.sandboxes.operator.common;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.PrimaryUpdateAndCacheUtils;
import java.util.function.Supplier;

/**
 * Writes a primary's whole status with a PUT on /status under optimistic locking, and caches the
 * result so the next reconcile sees it at once.
 *
 * <p>Why not a merge patch: conditions are a list, and a JSON merge patch of a list must replace
 * it; fabric8's mock server appends instead, and server-side apply is beta on Kubernetes 1.20. A
 * full status update behaves the same everywhere, and its resourceVersion check is what makes the
 * write-ahead Started record safe against a second writer.
 */
public final class StatusWriter {

  private StatusWriter() {}

  /** Replaces the status of {@code primary} with {@code status}; retries on conflicts. */
  public static <S, P extends CustomResource<?, S>> P write(
      P primary, Context<P> context, S status, Supplier<P> newInstance) {
    return PrimaryUpdateAndCacheUtils.updateAndCacheResource(
        primary,
        context,
        current -> {
          P fresh = newInstance.get();
          fresh.setMetadata(
              new ObjectMetaBuilder()
                  .withName(current.getMetadata().getName())
                  .withNamespace(current.getMetadata().getNamespace())
                  .withUid(current.getMetadata().getUid())
                  .withResourceVersion(current.getMetadata().getResourceVersion())
                  .withGeneration(current.getMetadata().getGeneration())
                  .build());
          setSpec(fresh, current);
          fresh.setStatus(status);
          return fresh;
        },
        fresh -> putStatus(context, fresh));
  }

  /**
   * PUT /status. A 422 is the API server rejecting the status itself: JOSDK would treat it like a
   * conflict and wait for a newer cached copy that never comes, hiding the server's message
   * behind a cache-polling timeout, so it is raised as what it is.
   */
  private static <P extends CustomResource<?, ?>> P putStatus(Context<P> context, P fresh) {
    try {
      return context.getClient().resource(fresh).updateStatus();
    } catch (KubernetesClientException e) {
      if (e.getCode() == 422) {
        throw new IllegalStateException("the API server rejected the status of "
            + fresh.getMetadata().getNamespace() + "/" + fresh.getMetadata().getName() + ": "
            + (e.getStatus() == null ? e.getMessage() : e.getStatus().getMessage()), e);
      }
      throw e;
    }
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private static void setSpec(CustomResource fresh, CustomResource current) {
    fresh.setSpec(current.getSpec());
  }
}
