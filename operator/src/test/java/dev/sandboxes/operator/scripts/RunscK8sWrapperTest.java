package dev.sandboxes.operator.scripts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.sandboxes.operator.testing.ProjectPaths;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * hack/gvisor/runsc-k8s, the wrapper that lets containerd's runc shim run gVisor pods, against a
 * fake runsc that records its calls and plays the behaviours the wrapper exists for. The real thing
 * is exercised by `hack/local-cluster smoke` and `churn` and the SelfManaged end-to-end tier.
 */
@Tag("unit")
class RunscK8sWrapperTest {

  private static final String APP = "app0123456789";
  private static final String SANDBOX = "pause0123456789";

  @TempDir Path tmp;
  private Path fakeDir;
  private Path stateDir;
  private Path cgroupRoot;
  private Path log;
  private Path terminationLog;

  @BeforeEach
  void setUp() throws IOException {
    fakeDir = Files.createDirectories(tmp.resolve("fake"));
    stateDir = tmp.resolve("state");
    cgroupRoot = Files.createDirectories(tmp.resolve("cgroup"));
    log = tmp.resolve("runsc-k8s.log");
    terminationLog = Files.writeString(tmp.resolve("termination-log"), "");
  }

  @AfterEach
  void killLeftoverWaiters() {
    String marker = tmp.toString();
    ProcessHandle.allProcesses()
        .filter(
            p -> p.info().arguments().map(a -> String.join(" ", a).contains(marker)).orElse(false))
        .forEach(ProcessHandle::destroyForcibly);
  }

  @Test
  void addsTheMachineFlagsBeforeTheShimsGlobalFlags() throws Exception {
    Result result =
        wrapper(
            "--root",
            tmp.resolve("root").toString(),
            "--log",
            "log.json",
            "--log-format",
            "json",
            "state",
            APP);

    assertThat(result.exitCode()).isEqualTo(128); // the fake has no state for it
    assertThat(calls())
        .containsExactly(
            "--network=none --platform=ptrace --root "
                + tmp.resolve("root")
                + " --log log.json --log-format json state "
                + APP);
  }

  @Test
  void startReturnsAtOnceAndKeepsItsOutputOffTheShimsPipe() throws Exception {
    Result result = wrapper("--root", "r", "start", APP);

    // The fake's start leaves a child holding stdout and stderr for 30 s, as a gofer does; the shim
    // reads until EOF, so the wrapper must not hand it that pipe.
    assertThat(result.exitCode()).isZero();
    assertThat(result.output()).isEmpty();
    assertThat(result.seconds()).isLessThan(10);
    assertThat(Files.readString(log)).contains("start stdout", "start stderr");
  }

  @Test
  void aPodsSandboxContainerKeepsTheSandboxPid() throws Exception {
    Path bundle = bundle("sandbox", "/kubepods/pod1/" + SANDBOX);
    Path pidFile = tmp.resolve("sandbox.pid");

    Result result = create(SANDBOX, bundle, pidFile);

    assertThat(result.exitCode()).isZero();
    assertThat(Files.readString(pidFile)).isEqualTo("4242");
    assertThat(stateDir.resolve(SANDBOX + ".waiter")).doesNotExist();
  }

  @Test
  void anAppContainerExitsWithItsOwnStatusThroughTheWaiter() throws Exception {
    Path bundle = bundle("container", "/kubepods/pod1/" + APP);
    Path pidFile = tmp.resolve("app.pid");

    assertThat(create(APP, bundle, pidFile).exitCode()).isZero();
    long waiter = Long.parseLong(Files.readString(pidFile).trim());
    assertThat(waiter).isNotEqualTo(4242L);
    ProcessHandle handle = ProcessHandle.of(waiter).orElseThrow();
    assertThat(handle.isAlive()).isTrue();
    // The waiter joined the container's (empty) cgroups, so the shim watches the pod for OOM.
    assertThat(
            Files.readString(cgroupRoot.resolve("memory/kubepods/pod1/" + APP + "/cgroup.procs"))
                .trim())
        .isEqualTo(Long.toString(waiter));

    assertThat(wrapper("--root", "r", "start", APP).exitCode()).isZero();
    assertThat(handle.isAlive()).as("the container runs").isTrue();
    Files.writeString(fakeDir.resolve("exit-" + APP), "3");

    await().atMost(Duration.ofSeconds(20)).until(() -> !handle.isAlive());
    assertThat(Files.readString(stateDir.resolve(APP + ".status")).trim()).isEqualTo("3");
    assertThat(calls()).anyMatch(c -> c.endsWith(" wait " + APP));
  }

  @Test
  void anAppContainerWhoseSandboxDiedOfItsMemoryLimitExitsWith137AndSaysSo() throws Exception {
    Path pidFile = tmp.resolve("app.pid");
    create(APP, bundle("container", "/kubepods/pod1/" + APP), pidFile);
    ProcessHandle handle =
        ProcessHandle.of(Long.parseLong(Files.readString(pidFile).trim())).orElseThrow();
    wrapper("--root", "r", "start", APP);
    Files.writeString(
        terminationLog, "sandbox killed: nothing happened"); // what code inside could write

    // cgroup v1 records the OOM kill in the victim's cgroup: the sandbox's, a sibling of the app's.
    Path sandboxCgroup =
        Files.createDirectories(cgroupRoot.resolve("memory/kubepods/pod1/" + SANDBOX));
    Files.writeString(
        sandboxCgroup.resolve("memory.oom_control"),
        "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
    Files.writeString(fakeDir.resolve("gone-" + APP), "");

    await().atMost(Duration.ofSeconds(20)).until(() -> !handle.isAlive());
    assertThat(Files.readString(stateDir.resolve(APP + ".status")).trim()).isEqualTo("137");
    assertThat(Files.readString(terminationLog))
        .startsWith("sandbox killed: out of memory")
        .contains("oom_kill 1");
    assertThat(Files.readString(log)).contains("the sandbox is gone (oom kills: 1): exit 137");
  }

  @Test
  void anAppContainerWhoseSandboxDiedOtherwiseExitsWith137AndSaysSo() throws Exception {
    Path pidFile = tmp.resolve("app.pid");
    create(APP, bundle("container", "/kubepods/pod1/" + APP), pidFile);
    ProcessHandle handle =
        ProcessHandle.of(Long.parseLong(Files.readString(pidFile).trim())).orElseThrow();
    wrapper("--root", "r", "start", APP);
    Files.writeString(terminationLog, "sandbox killed: out of memory, says the code");

    Files.writeString(fakeDir.resolve("gone-" + APP), "");

    await().atMost(Duration.ofSeconds(20)).until(() -> !handle.isAlive());
    assertThat(Files.readString(stateDir.resolve(APP + ".status")).trim()).isEqualTo("137");
    assertThat(Files.readString(terminationLog))
        .startsWith("sandbox killed: the gVisor sandbox died");
  }

  @Test
  void aNormalExitClearsWhatTheCodeWroteAsTerminationMessage() throws Exception {
    Path pidFile = tmp.resolve("app.pid");
    create(APP, bundle("container", "/kubepods/pod1/" + APP), pidFile);
    ProcessHandle handle =
        ProcessHandle.of(Long.parseLong(Files.readString(pidFile).trim())).orElseThrow();
    wrapper("--root", "r", "start", APP);
    Files.writeString(terminationLog, "sandbox killed: out of memory, says the code");

    Files.writeString(fakeDir.resolve("exit-" + APP), "137");

    await().atMost(Duration.ofSeconds(20)).until(() -> !handle.isAlive());
    assertThat(Files.readString(stateDir.resolve(APP + ".status")).trim()).isEqualTo("137");
    assertThat(Files.readString(terminationLog)).isEmpty();
  }

  @Test
  void aContainerDeletedBeforeItStartedTakesItsWaiterAlong() throws Exception {
    Path pidFile = tmp.resolve("app.pid");
    create(APP, bundle("container", "/kubepods/pod1/" + APP), pidFile);
    ProcessHandle handle =
        ProcessHandle.of(Long.parseLong(Files.readString(pidFile).trim())).orElseThrow();

    assertThat(wrapper("--root", "r", "delete", "--force", APP).exitCode()).isZero();

    await().atMost(Duration.ofSeconds(20)).until(() -> !handle.isAlive());
    assertThat(stateDir.resolve(APP + ".waiter")).doesNotExist();
  }

  @Test
  void aFailedKillOfAStoppedOrMissingContainerIsASuccess() throws Exception {
    Files.writeString(fakeDir.resolve("kill-error-" + APP), "sandbox is not running");
    Files.writeString(fakeDir.resolve("state-" + APP), "stopped");
    assertThat(wrapper("--root", "r", "kill", APP, "9").exitCode()).isZero();

    Files.delete(fakeDir.resolve("state-" + APP));
    Files.writeString(
        fakeDir.resolve("kill-error-" + APP), "connecting to control server: connection refused");
    assertThat(wrapper("--root", "r", "kill", "--all", APP, "9").exitCode()).isZero();
  }

  @Test
  void aFailedKillOfARunningContainerStaysAFailure() throws Exception {
    Files.writeString(fakeDir.resolve("kill-error-" + APP), "permission denied");
    Files.writeString(fakeDir.resolve("state-" + APP), "running");

    Result result = wrapper("--root", "r", "kill", APP, "15");

    assertThat(result.exitCode()).isNotZero();
    assertThat(result.output()).contains("permission denied");
  }

  private Result create(String id, Path bundle, Path pidFile) throws Exception {
    return wrapper(
        "--root",
        "r",
        "--log",
        "log.json",
        "--log-format",
        "json",
        "create",
        "--bundle",
        bundle.toString(),
        "--pid-file",
        pidFile.toString(),
        id);
  }

  /** A bundle whose config.json carries the CRI container type and cgroups path. */
  private Path bundle(String containerType, String cgroupsPath) throws IOException {
    Path bundle = Files.createDirectories(tmp.resolve("bundle-" + containerType));
    Files.writeString(
        bundle.resolve("config.json"),
        "{\"annotations\":{\"io.kubernetes.cri.container-type\":\""
            + containerType
            + "\"},"
            + "\"mounts\":[{\"destination\":\"/etc/hosts\",\"source\":\"/nowhere\"},"
            + "{\"destination\":\"/dev/termination-log\",\"source\":\""
            + terminationLog
            + "\"}],"
            + "\"linux\":{\"cgroupsPath\":\""
            + cgroupsPath
            + "\"}}");
    for (String controller : List.of("memory", "pids")) {
      Path dir = Files.createDirectories(cgroupRoot.resolve(controller + cgroupsPath));
      Files.writeString(dir.resolve("cgroup.procs"), "");
      Files.writeString(cgroupRoot.resolve(controller).resolve("cgroup.procs"), "");
    }
    return bundle;
  }

  private List<String> calls() throws IOException {
    Path calls = fakeDir.resolve("calls");
    return Files.exists(calls) ? Files.readAllLines(calls) : List.of();
  }

  private record Result(int exitCode, String output, long seconds) {}

  private Result wrapper(String... args) throws Exception {
    Path fake = fakeRunsc();
    List<String> command = new ArrayList<>();
    command.add(ProjectPaths.root().resolve("hack/gvisor/runsc-k8s").toString());
    command.addAll(List.of(args));
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
    Map<String, String> env = builder.environment();
    env.put("RUNSC_K8S_RUNSC", fake.toString());
    env.put("RUNSC_K8S_STATE", stateDir.toString());
    env.put("RUNSC_K8S_LOG", log.toString());
    env.put("RUNSC_K8S_CGROUP_ROOT", cgroupRoot.toString());
    env.put("FAKE_RUNSC_DIR", fakeDir.toString());
    env.put("RUNSC_K8S_OOM_GRACE", "0");
    long start = System.nanoTime();
    Process process = builder.start();
    String output;
    try (InputStream in = process.getInputStream()) {
      output =
          new String(
              in.readAllBytes(), StandardCharsets.UTF_8); // EOF only when nobody holds the pipe
    }
    assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
    return new Result(
        process.exitValue(), output, TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start));
  }

  private Path fakeRunsc() throws IOException {
    Path fake = tmp.resolve("fake-runsc");
    if (!Files.exists(fake)) {
      try (InputStream in =
          getClass().getResourceAsStream("/dev/sandboxes/operator/scripts/fake-runsc")) {
        Files.write(fake, in.readAllBytes());
      }
      Files.setPosixFilePermissions(fake, PosixFilePermissions.fromString("rwxr-xr-x"));
    }
    return fake;
  }
}
