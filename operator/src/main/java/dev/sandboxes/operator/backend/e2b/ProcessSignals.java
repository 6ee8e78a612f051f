package dev.sandboxes.operator.backend.e2b;

import java.util.Map;

/**
 * Reads the signal out of the status text envd sends for a process killed by a signal (Go's
 * ProcessState.String(), e.g. "signal: killed" or "signal: segmentation fault (core dumped)").
 */
final class ProcessSignals {

  private static final Map<String, Integer> NUMBERS =
      Map.ofEntries(
          Map.entry("hangup", 1),
          Map.entry("interrupt", 2),
          Map.entry("quit", 3),
          Map.entry("illegal instruction", 4),
          Map.entry("aborted", 6),
          Map.entry("bus error", 7),
          Map.entry("floating point exception", 8),
          Map.entry("killed", 9),
          Map.entry("segmentation fault", 11),
          Map.entry("broken pipe", 13),
          Map.entry("alarm clock", 14),
          Map.entry("terminated", 15));

  private ProcessSignals() {}

  /** The signal number, or null when the status names no signal this table knows. */
  static Integer number(String status) {
    if (status == null || !status.startsWith("signal: ")) {
      return null;
    }
    String name = status.substring("signal: ".length()).replace(" (core dumped)", "").strip();
    return NUMBERS.get(name);
  }
}
