package dev.sandboxes.operator.backend.docker;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.dockerjava.api.model.Statistics;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** When the OOM-evidence probe may exec into a container, judged from the engine's stats. */
@Tag("unit")
class MemoryCgroupTest {

  private static final ObjectMapper JSON =
      new ObjectMapper().disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
  private static final long MIB = 1024 * 1024;

  /** The shape podman 4.3 answers to GET /containers/{id}/stats?stream=false, trimmed. */
  private static Statistics podmanStats(long pids, long usage, long limit) throws Exception {
    return JSON.readValue(
        """
        {"read":"2026-12-06T21:04:08.113237168Z","pids_stats":{"current":%d},
         "memory_stats":{"usage":%d,"limit":%d},"name":"sbx","Id":"08ad6a2473f5"}
        """
            .formatted(pids, usage, limit),
        Statistics.class);
  }

  @Test
  void anIdleContainerHasRoom() throws Exception {
    assertThat(MemoryCgroup.noRoomToProbe(podmanStats(1, 540_672, 256 * MIB), 256)).isNull();
  }

  @Test
  void aForkBombThatFillsTheProcessLimitLeavesNoRoom() throws Exception {
    assertThat(MemoryCgroup.noRoomToProbe(podmanStats(255, 100 * MIB, 256 * MIB), 256))
        .isEqualTo("the code's 255 processes fill the limit of 256, leaving no room for a probe");
    assertThat(MemoryCgroup.noRoomToProbe(podmanStats(254, 100 * MIB, 256 * MIB), 256)).isNull();
  }

  @Test
  void processesThatFillTheMemoryLeaveNoRoom() throws Exception {
    assertThat(MemoryCgroup.noRoomToProbe(podmanStats(40, 250 * MIB, 256 * MIB), 256))
        .isEqualTo(
            "the code's processes use 250 of the 256 MiB memory limit, leaving no room for a probe");
    assertThat(MemoryCgroup.noRoomToProbe(podmanStats(40, 240 * MIB, 256 * MIB), 256)).isNull();
  }

  @Test
  void statsWhoseCpuCountersWrappedBelowZeroStillSayThatAForkBombLeftNoRoom() throws Exception {
    // Podman's counters are unsigned 64-bit; on a fresh container this one wrapped (seen on a
    // fork bomb's container). Read as a long it failed the whole stats call.
    String stats =
        """
        {"read":"2026-12-07T11:21:05Z","pids_stats":{"current":255},
         "memory_stats":{"usage":%d,"limit":%d},
         "cpu_stats":{"cpu_usage":{"total_usage":1200000,"usage_in_usermode":18446744073707534611,
           "usage_in_kernelmode":900000},"system_cpu_usage":5000000},
         "precpu_stats":{"cpu_usage":{"usage_in_usermode":18446744073707534611}},"Id":"08ad6a2473f5"}
        """
            .formatted(100 * MIB, 256 * MIB);
    ObjectMapper docker = com.github.dockerjava.core.DockerClientConfig.getDefaultObjectMapper();
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> docker.readValue(stats, Statistics.class))
        .hasMessageContaining("out of range of long");

    Statistics read = DockerClients.objectMapper().readValue(stats, Statistics.class);
    assertThat(MemoryCgroup.noRoomToProbe(read, 256))
        .isEqualTo("the code's 255 processes fill the limit of 256, leaving no room for a probe");
  }

  @Test
  void withoutStatsTheProbeIsTried() throws Exception {
    assertThat(MemoryCgroup.noRoomToProbe(null, 256)).isNull();
    assertThat(MemoryCgroup.noRoomToProbe(JSON.readValue("{}", Statistics.class), 256)).isNull();
  }
}
