package dev.sandboxes.operator.backend.docker;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.async.ResultCallback;
import com.github.dockerjava.api.model.Frame;
import com.github.dockerjava.api.model.MemoryStatsConfig;
import com.github.dockerjava.api.model.Statistics;
import com.github.dockerjava.api.model.StreamType;
import dev.sandboxes.operator.backend.OomEvidence;
import dev.sandboxes.operator.backend.OomEvidence.OomKills;
import java.io.ByteArrayOutputStream;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Reads the OOM-kill count of a sandbox container's memory cgroup: the evidence that the memory
 * limit, and not the code, sent a SIGKILL. Each container runs one execution, so any count above
 * zero happened during it.
 *
 * <p>The count comes from a separate exec of {@code cat} as user 65534, which the code (user 1000)
 * can neither signal nor trace. It reads {@code memory.oom_control} (cgroup v1) and {@code
 * memory.events} (cgroup v2), where the kernel keeps {@code oom_kill}. Under gVisor neither file
 * exists; there the memory limit stops the whole sandbox, which the engine reports instead.
 *
 * <p>Before the exec, the engine's stats (read from the host, no process in the container) say
 * whether there is room for one: in a container whose code filled its process limit and its memory
 * (a fork bomb), the exec's runtime process cannot start and hangs for a minute or more while the
 * engine holds the container's lock, and the container's removal waits behind it.
 */
final class MemoryCgroup {

  private static final long PROBE_TIMEOUT_MILLIS = 5_000;
  private static final int MAX_OUTPUT = 64 * 1024;

  /** What an exec needs besides the code: the runtime's init process and {@code cat}. */
  private static final long PROBE_PIDS = 2;

  static final long PROBE_MEMORY_BYTES = 16L * 1024 * 1024;

  private MemoryCgroup() {}

  /** The count, or why there is none. */
  static OomKills read(DockerClient client, String containerId, long pidsLimit) {
    String full = noRoomToProbe(stats(client, containerId), pidsLimit);
    if (full != null) {
      return OomKills.unreadable(full);
    }
    try {
      String execId =
          client
              .execCreateCmd(containerId)
              .withUser("65534:65534")
              .withAttachStdout(true)
              .withAttachStderr(true)
              .withCmd(OomEvidence.READ_COMMAND.toArray(String[]::new))
              .exec()
              .getId();
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      ResultCallback.Adapter<Frame> callback =
          client
              .execStartCmd(execId)
              .withDetach(false)
              .withTty(false)
              .exec(
                  new ResultCallback.Adapter<>() {
                    @Override
                    public void onNext(Frame frame) {
                      if (frame.getStreamType() == StreamType.STDOUT
                          && frame.getPayload() != null
                          && out.size() < MAX_OUTPUT) {
                        out.write(frame.getPayload(), 0, frame.getPayload().length);
                      }
                    }
                  });
      if (!callback.awaitCompletion(PROBE_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS)) {
        callback.close();
        return OomKills.unreadable("the probe did not finish");
      }
      return OomKills.parse(
          out.toString(java.nio.charset.StandardCharsets.UTF_8),
          "no oom_kill counter in the container");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return OomKills.unreadable("interrupted");
    } catch (Exception e) {
      return OomKills.unreadable(
          e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage().strip());
    }
  }

  /** The engine's one-shot stats of the container, or null when it has none to give in time. */
  private static Statistics stats(DockerClient client, String containerId) {
    AtomicReference<Statistics> first = new AtomicReference<>();
    try (ResultCallback.Adapter<Statistics> callback =
        client
            .statsCmd(containerId)
            .withNoStream(true)
            .exec(
                new ResultCallback.Adapter<>() {
                  @Override
                  public void onNext(Statistics statistics) {
                    first.compareAndSet(null, statistics);
                  }
                })) {
      callback.awaitCompletion(PROBE_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Exception e) {
      // no stats: try the probe anyway, bounded by its own timeout
    }
    return first.get();
  }

  /**
   * Why an exec cannot start in the container now, or null when it can (or the stats do not say):
   * its processes fill the limit, or its memory is nearly all in use.
   */
  static String noRoomToProbe(Statistics stats, long pidsLimit) {
    if (stats == null) {
      return null;
    }
    Long pids = stats.getPidsStats() == null ? null : stats.getPidsStats().getCurrent();
    if (pids != null && pidsLimit > 0 && pids + PROBE_PIDS > pidsLimit) {
      return "the code's "
          + pids
          + " processes fill the limit of "
          + pidsLimit
          + ", leaving no room for a probe";
    }
    MemoryStatsConfig memory = stats.getMemoryStats();
    Long usage = memory == null ? null : memory.getUsage();
    Long limit = memory == null ? null : memory.getLimit();
    if (usage != null && limit != null && limit > 0 && limit - usage < PROBE_MEMORY_BYTES) {
      return "the code's processes use "
          + usage / (1024 * 1024)
          + " of the "
          + limit / (1024 * 1024)
          + " MiB memory limit, leaving no room for a probe";
    }
    return null;
  }
}
