package dev.sandboxes.operator.testing;

import java.time.Duration;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Awaitility's defaults for every test (registered through junit-platform.properties): a wait that
 * gives up after 10 s fails on a 2-core machine that other builds keep busy, though nothing is
 * wrong. A wait that can end badly says so with a fail-fast condition or waits for the specific
 * event, so a long default costs time only when the awaited thing never happens and nothing shows
 * it.
 */
public final class LoadTolerantWaits implements BeforeAllCallback {

  /** The longest a test waits for something asynchronous, unless it says otherwise. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(60);

  @Override
  public void beforeAll(ExtensionContext context) {
    Awaitility.setDefaultTimeout(DEFAULT_TIMEOUT);
  }
}
