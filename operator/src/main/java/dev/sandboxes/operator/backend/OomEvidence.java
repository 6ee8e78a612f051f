package dev.sandboxes.operator.backend;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Whether the memory limit stopped a run, decided by one rule in the same words for every backend
 * whose sandbox has a memory cgroup of its own (SelfManaged pods, Docker containers). Two kinds of
 * evidence count: the sandbox stopped as a whole at its limit (what gVisor does; the backend says
 * how it saw it), or, after a SIGKILL that came before the runner's done record, an OOM-kill count
 * above zero in the sandbox's memory cgroup. A SIGKILL alone proves nothing: the code can send it
 * too. The runner's own report never decides OutOfMemory (a MemoryError is the code's error).
 */
public final class OomEvidence {

  /** The exit code of a process killed by SIGKILL (128 + 9). */
  public static final int SIGKILL_EXIT_CODE = 137;

  /**
   * Prints the OOM-kill counters of cgroup v1 (memory.oom_control) and v2 (memory.events); run by a
   * second exec in the sandbox. Under gVisor neither file exists.
   */
  public static final List<String> READ_COMMAND =
      List.of("cat", "/sys/fs/cgroup/memory/memory.oom_control", "/sys/fs/cgroup/memory.events");

  private static final Pattern OOM_KILL = Pattern.compile("(?m)^oom_kill (\\d+)$");

  /**
   * The OOM-kill count of a sandbox's memory cgroup, or (count below zero) why it could not be
   * read.
   */
  public record OomKills(long count, String problem) {

    /** A count that could not be read; {@code problem} may be null when there is nothing to say. */
    public static OomKills unreadable(String problem) {
      return new OomKills(-1, problem);
    }

    /**
     * The highest oom_kill counter in the output of {@link #READ_COMMAND}; unreadable, with {@code
     * problemWhenAbsent}, when it holds none. Each sandbox runs one execution, so a count above
     * zero happened during it.
     */
    public static OomKills parse(String text, String problemWhenAbsent) {
      Matcher matcher = OOM_KILL.matcher(text);
      long kills = -1;
      while (matcher.find() && matcher.group(1).length() < 18) {
        kills = Math.max(kills, Long.parseLong(matcher.group(1)));
      }
      return kills < 0 ? unreadable(problemWhenAbsent) : new OomKills(kills, null);
    }

    public boolean readable() {
      return count >= 0;
    }
  }

  /**
   * What the count says: out of memory (and the message), or not (and a detail for the outcome).
   */
  public record Verdict(boolean outOfMemory, String message) {}

  private final String sandbox;
  private final String memoryLimit;

  /**
   * @param sandbox what the messages call the sandbox: "sandbox", "sandbox pod"
   * @param memoryLimit the limit as the provider spells it, e.g. 256Mi
   */
  public OomEvidence(String sandbox, String memoryLimit) {
    this.sandbox = sandbox;
    this.memoryLimit = memoryLimit;
  }

  /**
   * Whether an exit needs the cgroup's count to be judged: SIGKILL before the runner's done record.
   */
  public static boolean sigkilledBeforeDone(Number exitCode, boolean runnerFinished) {
    return exitCode != null && exitCode.longValue() == SIGKILL_EXIT_CODE && !runnerFinished;
  }

  /** The message for a sandbox that was stopped as a whole at its memory limit. */
  public String sandboxStopped() {
    return "The " + sandbox + " was stopped at its memory limit of " + memoryLimit;
  }

  /**
   * A SIGKILL judged by the count: the memory limit sent it only when the cgroup counted a kill.
   */
  public Verdict afterSigkill(OomKills kills) {
    if (kills.count() > 0) {
      return new Verdict(
          true,
          "The kernel's OOM killer stopped the program at the "
              + sandbox
              + "'s memory limit of "
              + memoryLimit
              + " (the memory cgroup counted "
              + kills.count()
              + " OOM kill"
              + (kills.count() == 1 ? "" : "s")
              + ")");
    }
    if (kills.readable()) {
      return new Verdict(
          false,
          "The "
              + sandbox
              + "'s memory cgroup recorded no OOM kill, so it was not the memory limit");
    }
    return new Verdict(
        false,
        "The "
            + sandbox
            + "'s memory cgroup could not be read"
            + (kills.problem() == null ? "" : " (" + kills.problem() + ")")
            + ", so nothing shows that the memory limit sent it");
  }
}
