package dev.sandboxes.operator.provider;

/**
 * Told how each call of a SaaS backend to its service ended, for the operator's metrics. Called
 * from any thread, so it must be quick and thread-safe.
 */
@FunctionalInterface
public interface ServiceCallListener {

  /** For backends nobody listens to (the `run` command, tests). */
  ServiceCallListener NONE = outcome -> {};

  void called(Outcome outcome);

  /** How a call ended, by HTTP semantics; the tag values of sandbox_saas_requests_total. */
  enum Outcome {
    /** A 2xx (or 1xx/3xx) answer. */
    OK("Ok"),
    /** 429, or the service's own "throttled / no capacity, come back later" answer. */
    THROTTLED("Throttled"),
    /**
     * 404, or the service's own "does not exist": often expected (a sandbox already gone, a
     * template to create).
     */
    NOT_FOUND("NotFound"),
    /** Any other 4xx: a request the service refused (credentials, bad request, conflict). */
    CLIENT_ERROR("ClientError"),
    /** 5xx, or an answer the backend cannot read. */
    SERVER_ERROR("ServerError"),
    /** No answer: connection refused or reset, or none within the call's timeout. */
    UNREACHABLE("Unreachable");

    private final String value;

    Outcome(String value) {
      this.value = value;
    }

    /** The tag value. */
    public String value() {
      return value;
    }

    /**
     * By the HTTP status alone, for services that signal throttling with 429 and absence with 404.
     */
    public static Outcome ofStatus(int status) {
      if (status == 429) {
        return THROTTLED;
      }
      if (status == 404) {
        return NOT_FOUND;
      }
      if (status >= 500) {
        return SERVER_ERROR;
      }
      return status >= 400 ? CLIENT_ERROR : OK;
    }
  }
}
