package dev.sandboxes.operator.runner;

/** What was kept of one output stream: text (capped), full size in bytes, whether it was cut. */
public record StreamCapture(String text, long totalBytes, boolean truncated) {

  /** An empty stream. */
  public static final StreamCapture EMPTY = new StreamCapture("", 0, false);
}
