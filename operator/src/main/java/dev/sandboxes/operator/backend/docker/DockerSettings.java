package dev.sandboxes.operator.backend.docker;

import dev.sandboxes.api.v1alpha1.DockerSpec;

/**
 * A Docker provider's settings with defaults applied: where the engine is and how each sandbox
 * container is locked down.
 */
public record DockerSettings(
    String host,
    String runtime,
    int poolSize,
    long memoryBytes,
    int pidsLimit,
    int cpuMillis,
    String network) {

  public static final String DEFAULT_RUNTIME = "runsc";
  public static final long DEFAULT_MEMORY_BYTES = 256L * 1024 * 1024;

  /** gVisor's own threads count against pids.max, so runsc needs more than runc's 64. */
  public static final int DEFAULT_PIDS_LIMIT = 256;

  public static final int DEFAULT_CPU_MILLIS = 1000;
  public static final String DEFAULT_NETWORK = "none";

  /** Size of the writable /tmp of each container. */
  public static final String TMP_SIZE = "64m";

  public static DockerSettings of(DockerSpec spec) {
    return new DockerSettings(
        spec.getHost(),
        spec.getRuntime() == null ? DEFAULT_RUNTIME : spec.getRuntime(),
        spec.getPoolSize() == null ? 2 : spec.getPoolSize(),
        spec.getMemoryBytes() == null ? DEFAULT_MEMORY_BYTES : spec.getMemoryBytes(),
        spec.getPidsLimit() == null ? DEFAULT_PIDS_LIMIT : spec.getPidsLimit(),
        spec.getCpuMillis() == null ? DEFAULT_CPU_MILLIS : spec.getCpuMillis(),
        spec.getNetwork() == null ? DEFAULT_NETWORK : spec.getNetwork());
  }

  /** "256 MiB" for messages. */
  public String memoryText() {
    return (memoryBytes / (1024 * 1024)) + " MiB";
  }
}
