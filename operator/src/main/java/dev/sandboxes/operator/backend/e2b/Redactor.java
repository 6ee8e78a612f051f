package dev.sandboxes.operator.backend.e2b;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Makes a service's text safe for statuses, events and logs: one line, bounded length, and no
 * credential the backend knows (the API key, envd access tokens), in case a service echoes one.
 */
final class Redactor {

  static final int MAX_MESSAGE_CHARS = 300;

  private final List<String> secrets = new CopyOnWriteArrayList<>();

  Redactor(String apiKey) {
    remember(apiKey);
  }

  /** Adds a credential learnt at run time (an envd access token). */
  void remember(String secret) {
    if (secret != null && secret.length() >= 4) {
      secrets.add(secret);
    }
  }

  void forget(String secret) {
    if (secret != null) {
      secrets.remove(secret);
    }
  }

  String clean(String text) {
    if (text == null) {
      return "";
    }
    String result = text;
    for (String secret : secrets) {
      result = result.replace(secret, "[redacted]");
    }
    result = result.replaceAll("\\s+", " ").strip();
    if (result.length() > MAX_MESSAGE_CHARS) {
      result = result.substring(0, MAX_MESSAGE_CHARS) + "…";
    }
    return result;
  }
}
