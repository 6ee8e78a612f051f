package dev.sandboxes.operator.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What the benchmarks read of an operator process they started: /proc figures, jcmd, a clean stop.
 */
final class ProcessProbe {

  private ProcessProbe() {}

  /** Output of `jcmd pid command`, or null when jcmd is not available. */
  static String jcmd(long pid, String command) {
    try {
      Process jcmd =
          new ProcessBuilder("jcmd", Long.toString(pid), command).redirectErrorStream(true).start();
      String output = new String(jcmd.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      jcmd.waitFor(60, TimeUnit.SECONDS);
      return output;
    } catch (IOException e) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
  }

  /**
   * The JVM's own account of its committed memory per area, one line ("Java Heap=34 Class=48 ...",
   * MiB), or null unless the process runs with -XX:NativeMemoryTracking=summary.
   */
  static String nativeMemory(long pid) {
    String summary = jcmd(pid, "VM.native_memory summary scale=MB");
    if (summary == null || !summary.contains("Native Memory Tracking")) {
      return null;
    }
    StringBuilder line = new StringBuilder();
    Matcher area =
        Pattern.compile(
                "(?m)^(?:-\\s*)?([A-Za-z][A-Za-z ]*?)\\s*\\(reserved=\\d+MB, committed=(\\d+)MB\\)")
            .matcher(summary);
    while (area.find()) {
      if (Integer.parseInt(area.group(2)) > 0) {
        line.append(line.length() == 0 ? "" : " ")
            .append(area.group(1).trim())
            .append('=')
            .append(area.group(2));
      }
    }
    return line.toString();
  }

  /** CPU time used so far, in clock ticks (utime + stime of /proc/pid/stat). */
  static long cpuTicks(long pid) throws IOException {
    String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
    String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    return Long.parseLong(fields[11]) + Long.parseLong(fields[12]); // utime, stime
  }

  /** Clock ticks per second of /proc's CPU counters (USER_HZ; 100 on every Linux we run). */
  static final double TICKS_PER_SECOND = 100.0;

  /** CPU time the whole node spent busy so far (every state of /proc/stat but idle and iowait). */
  static long nodeBusyTicks() throws IOException {
    String[] cpu = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
    long busy = 0;
    for (int i = 1; i < Math.min(cpu.length, 9); i++) {
      if (i != 4 && i != 5) { // idle, iowait
        busy += Long.parseLong(cpu[i]);
      }
    }
    return busy;
  }

  /** A field of /proc/pid/status in KiB (VmRSS, VmHWM, ...). */
  static long vmKb(long pid, String field) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
      if (line.startsWith(field + ":")) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    throw new IllegalStateException(field + " not in /proc/" + pid + "/status");
  }

  /** SIGTERM, then SIGKILL if the process has not ended within 30 s; null does nothing. */
  static void stop(Process process) {
    if (process == null) {
      return;
    }
    process.destroy();
    try {
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }
}
