package dev.sandboxes.operator.backend.saas;

import dev.sandboxes.operator.backend.BoundedBodySubscriber;
import dev.sandboxes.operator.backend.RunGuard;
import dev.sandboxes.operator.provider.ServiceCallListener;
import java.io.InputStream;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;

/**
 * The HTTP exchange every SaaS client shares: one JDK client, a bound on each call's time and body,
 * the run's {@link RunGuard} ending a call at once, and each call's outcome reported for the
 * metrics. Signing, error wording and retry rules are the service clients' business.
 */
public final class SaasHttp {

  private final HttpClient client;
  private final ServiceCallListener calls;
  private final Function<SaasReply, ServiceCallListener.Outcome> outcomes;

  /**
   * @param calls where each call's outcome is reported
   * @param outcomes how the service's answers count (its own throttling and "not found" codes)
   */
  public SaasHttp(
      HttpClient client,
      ServiceCallListener calls,
      Function<SaasReply, ServiceCallListener.Outcome> outcomes) {
    this.client = client;
    this.calls = calls;
    this.outcomes = outcomes;
  }

  /**
   * A client for a SaaS service. It follows no redirect: a redirect would send the credentials'
   * signature or key to an address nobody configured.
   */
  public static HttpClient client(HttpClient.Version version, Duration connectTimeout) {
    return HttpClient.newBuilder()
        .version(version)
        .connectTimeout(connectTimeout)
        .followRedirects(HttpClient.Redirect.NEVER)
        .build();
  }

  /**
   * Sends a request and waits for the whole answer, at most {@code wait}, and reads at most {@code
   * maxBytes} of its body.
   *
   * @throws NoAnswer when nothing usable came back (reported as unreachable, or as a server error
   *     when the body was too large)
   * @throws RunGuard.StoppedException when the guard stopped the run before or during the call (not
   *     reported: the service did nothing wrong)
   */
  public SaasReply exchange(HttpRequest request, Duration wait, RunGuard guard, long maxBytes)
      throws NoAnswer, RunGuard.StoppedException, InterruptedException {
    guard.check();
    HttpResponse<byte[]> response =
        await(client.sendAsync(request, info -> new BoundedBodySubscriber(maxBytes)), wait, guard);
    SaasReply reply = new SaasReply(response.statusCode(), response.headers(), response.body());
    calls.called(outcomes.apply(reply));
    return reply;
  }

  /**
   * Sends a request and returns once the response headers are in, its body still streaming (the
   * caller closes it and bounds what it reads). The outcome is reported by status alone.
   */
  public HttpResponse<InputStream> open(HttpRequest request, Duration wait, RunGuard guard)
      throws NoAnswer, RunGuard.StoppedException, InterruptedException {
    guard.check();
    HttpResponse<InputStream> response =
        await(client.sendAsync(request, HttpResponse.BodyHandlers.ofInputStream()), wait, guard);
    calls.called(
        outcomes.apply(new SaasReply(response.statusCode(), response.headers(), new byte[0])));
    return response;
  }

  private <T> HttpResponse<T> await(
      CompletableFuture<HttpResponse<T>> call, Duration wait, RunGuard guard)
      throws NoAnswer, RunGuard.StoppedException, InterruptedException {
    guard.watch(call); // a stop cancels the call, which ends the wait below
    try {
      return call.get(wait.toMillis(), TimeUnit.MILLISECONDS);
    } catch (CancellationException e) {
      guard.check();
      throw new NoAnswer(NoAnswer.Kind.CANCELLED, e);
    } catch (TimeoutException e) {
      call.cancel(true);
      calls.called(ServiceCallListener.Outcome.UNREACHABLE);
      throw new NoAnswer(NoAnswer.Kind.TIMED_OUT, e);
    } catch (ExecutionException e) {
      guard.check(); // a failure the stop caused is the stop's
      Throwable cause = e.getCause() == null ? e : e.getCause();
      if (cause instanceof BoundedBodySubscriber.TooLarge) {
        calls.called(ServiceCallListener.Outcome.SERVER_ERROR); // an answer the backend cannot read
        throw new NoAnswer(NoAnswer.Kind.TOO_LARGE, cause);
      }
      calls.called(ServiceCallListener.Outcome.UNREACHABLE);
      throw new NoAnswer(NoAnswer.Kind.FAILED, cause);
    } catch (InterruptedException e) {
      call.cancel(true);
      throw e;
    } finally {
      guard.unwatch(call);
    }
  }
}
