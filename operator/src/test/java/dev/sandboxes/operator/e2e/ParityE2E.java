package dev.sandboxes.operator.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sandboxes.api.util.Conditions;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionReason;
import dev.sandboxes.api.v1alpha1.CodeExecutionStatus;
import dev.sandboxes.api.v1alpha1.ConditionTypes;
import dev.sandboxes.api.v1alpha1.Phase;
import dev.sandboxes.operator.Backends;
import dev.sandboxes.operator.cli.RunCommand;
import dev.sandboxes.operator.config.IsolationPolicy;
import dev.sandboxes.operator.config.OperatorConfig;
import dev.sandboxes.operator.testing.DockerEngines;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * Issue 18: the same CodeExecution manifests end the same way through the {@code run} command (the
 * Docker provider on podman, runc and gVisor) and through the cluster (SelfManaged pods on
 * RuntimeClass gvisor, and a subset on runc), applied there with client-side {@code kubectl apply}
 * as a new user would. Same phase, reason, exit code and result, case by case.
 *
 * <p>Differences the docs explain, and the only ones allowed:
 *
 * <ul>
 *   <li>{@code null} in {@code spec.arguments}: client-side kubectl apply deletes it before the
 *       operator sees the object (README, "Arguments that may be null"); {@code run} reads the
 *       file. The cluster's message then names kubectl and {@code argumentsJSON}.
 *   <li>A fork bomb: whichever limit is hit first decides (fork failing at the process limit, the
 *       memory limit, gVisor stopping the sandbox at its process limit); it always fails, within
 *       its deadline (docs/container-engine.md).
 * </ul>
 */
@Tag("e2e")
class ParityE2E {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final ObjectMapper SORTED =
      new ObjectMapper()
          .enable(com.fasterxml.jackson.databind.SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS);

  /** Every JSON type, nested, unicode, and nulls in objects and lists. */
  private static final String EVERY_TYPE =
      "{\"text\": \"h\\u00e9llo \\u4e16\\u754c \\ud83d\\ude80\", \"int\": 42, \"negative\": -7, \"float\": 1.5,"
          + " \"yes\": true, \"no\": false, \"nothing\": null, \"list\": [1, null, \"x\", []],"
          + " \"object\": {\"inner\": null, \"deep\": {\"k\": [true]}}, \"empty\": {}}";

  /** What one case must end as, on every path. */
  record Expect(
      Phase phase,
      Set<String> reasons,
      Integer exitCode,
      String result,
      Consumer<CodeExecutionStatus> extra) {
    static Expect succeeded(String result, Consumer<CodeExecutionStatus> extra) {
      return new Expect(
          Phase.SUCCEEDED, Set.of(CodeExecutionReason.COMPLETED.value()), 0, result, extra);
    }

    static Expect failed(String reason, Integer exitCode, Consumer<CodeExecutionStatus> extra) {
      return new Expect(Phase.FAILED, Set.of(reason), exitCode, null, extra);
    }
  }

  /**
   * One manifest (__PROVIDER__ and __NAME__ are replaced per target). {@code onRuncPods}: also run
   * on the runc RuntimeClass (the cases where the runtime matters). {@code inCluster}: what the
   * cluster path must show instead, where the docs explain a difference; null when it is the same.
   */
  record Case(String name, String manifest, Expect expect, boolean onRuncPods, Expect inCluster) {}

  private static final List<Case> CASES =
      List.of(
          new Case(
              "args-python",
              function("python", "def main(**arguments):\n    return arguments\n", EVERY_TYPE, 60),
              Expect.succeeded(EVERY_TYPE, s -> {}),
              true,
              null),
          new Case(
              "args-javascript",
              function("javascript", "function main(a) { return a; }\n", EVERY_TYPE, 60),
              Expect.succeeded(EVERY_TYPE, s -> {}),
              false,
              null),
          new Case(
              "args-configmap",
              """
          apiVersion: sandboxes.dev/v1alpha1
          kind: CodeExecution
          metadata: {name: __NAME__}
          spec:
            providerRef: {name: __PROVIDER__}
            language: python
            code: |
              def main(a, b, c):
                  return [a, b, c]
            argumentsJSON: '{"a": 1, "b": null}'
            argumentsFrom:
              configMapKeyRef: {name: parity-arguments, key: arguments.json}
            timeoutSeconds: 60
          """,
              Expect.succeeded("[1, \"from the ConfigMap\", null]", s -> {}),
              false,
              null),
          new Case(
              "null-in-arguments",
              """
          apiVersion: sandboxes.dev/v1alpha1
          kind: CodeExecution
          metadata: {name: __NAME__}
          spec:
            providerRef: {name: __PROVIDER__}
            language: python
            code: |
              def main(a, nothing):
                  return [a, nothing]
            arguments: {a: true, nothing: null}
            timeoutSeconds: 60
          """,
              Expect.succeeded("[true, null]", s -> {}),
              true,
              Expect.failed(
                  CodeExecutionReason.USER_CODE_ERROR.value(),
                  1,
                  s ->
                      assertThat(s.getMessage())
                          .contains("missing 1 required positional argument: 'nothing'")
                          .contains("client-side kubectl apply drops null values")
                          .contains("spec.argumentsJSON"))),
          new Case(
              "exit-python",
              function("python", "import sys\ndef main():\n    sys.exit(3)\n", "{}", 60),
              Expect.failed(CodeExecutionReason.USER_CODE_ERROR.value(), 3, s -> {}),
              false,
              null),
          new Case(
              "exit-javascript-script",
              script("javascript", "console.log('leaving');\nprocess.exit(4);\n", 60),
              Expect.failed(
                  CodeExecutionReason.USER_CODE_ERROR.value(),
                  4,
                  s -> assertThat(s.getStdout()).isEqualTo("leaving\n")),
              false,
              null),
          new Case(
              "timeout",
              function("python", "def main():\n    while True:\n        pass\n", "{}", 3),
              Expect.failed(
                  CodeExecutionReason.TIMED_OUT.value(),
                  null,
                  s ->
                      assertThat(s.getDurationMillis())
                          .as("reported soon after the 3 s limit")
                          .isBetween(2900L, 8000L)),
              true,
              null),
          new Case(
              "output-flood",
              script(
                  "python",
                  "import sys\nchunk = 'x' * 65536\nfor _ in range(320):\n    sys.stdout.write(chunk)\n",
                  60),
              Expect.succeeded(
                  null,
                  s -> {
                    assertThat(s.getStdoutBytes()).isEqualTo(320L * 65536);
                    assertThat(s.getStdoutTruncated()).isTrue();
                    assertThat(s.getStdout()).hasSize(4096);
                  }),
              false,
              null),
          new Case(
              "background-python",
              function(
                  "python",
                  "import subprocess\ndef main():\n    subprocess.Popen(['sleep', '300'])\n    return {'started': True}\n",
                  "{}",
                  60),
              Expect.succeeded("{\"started\": true}", ParityE2E::endedLongBeforeItsLimit),
              true,
              null),
          new Case(
              "background-script",
              script(
                  "python",
                  "import subprocess\nsubprocess.Popen(['sleep', '300'])\nprint('bye')\n",
                  60),
              Expect.succeeded(
                  null,
                  s -> {
                    endedLongBeforeItsLimit(s);
                    assertThat(s.getStdout()).isEqualTo("bye\n");
                  }),
              false,
              null),
          new Case(
              "background-javascript",
              function(
                  "javascript",
                  "const cp = require('child_process');\n"
                      + "function main() {\n"
                      + "  cp.spawn('sleep', ['300'], { stdio: 'inherit' });\n"
                      + "  cp.spawn('sleep', ['300'], { stdio: 'inherit', detached: true }).unref();\n"
                      + "  return 1;\n"
                      + "}\n",
                  "{}",
                  60),
              Expect.succeeded("1", ParityE2E::endedLongBeforeItsLimit),
              true,
              null),
          new Case(
              "memory-bomb",
              function(
                  "python",
                  "def main():\n    blocks = []\n    while True:\n        blocks.append(bytearray(16 * 1024 * 1024))\n",
                  "{}",
                  60),
              Expect.failed(
                  CodeExecutionReason.OUT_OF_MEMORY.value(),
                  null,
                  s -> assertThat(s.getMessage()).contains("memory limit")),
              true,
              null),
          new Case(
              "fork-bomb",
              script("python", "import os\nwhile True:\n    os.fork()\n", 10),
              new Expect(
                  Phase.FAILED,
                  Set.of(
                      CodeExecutionReason.USER_CODE_ERROR.value(),
                      CodeExecutionReason.OUT_OF_MEMORY.value(),
                      CodeExecutionReason.SANDBOX_FAILED.value(),
                      CodeExecutionReason.TIMED_OUT.value()),
                  null,
                  null,
                  s ->
                      assertThat(s.getDurationMillis())
                          .as("contained within its deadline")
                          .isLessThan(15_000L)),
              false,
              null));

  private static final String CONFIG_MAP =
      """
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: parity-arguments
        labels: {sandboxes.dev/execution-input: "true"}
      data:
        arguments.json: '{"b": "from the ConfigMap", "c": null}'
      """;

  @Test
  void theRunCommandAndTheClusterEndEveryCaseTheSameWay() throws Exception {
    Map<String, Map<String, CodeExecutionStatus>> byTarget = new LinkedHashMap<>();
    // One path after the other, and the bombs after the rest: on a two-core machine, cases
    // competing with a 20 MiB flood and a dozen sandboxes starting at once only measure the load.
    byTarget.put("run/runc", runCommand("runc"));
    byTarget.put("run/runsc", runCommand("runsc"));
    try (E2eCluster cluster = E2eCluster.open("parity")) {
      OperatorConfig config = cluster.operatorConfig();
      cluster.startOperator(
          config.withIsolationPolicy(
              config.isolationPolicy().alsoAllowing(Set.of(), Set.of("runc"), Set.of("runc"))));
      cluster.create(SelfManagedE2E.providerIn(cluster, "pods-gvisor", "gvisor", 3));
      cluster.create(SelfManagedE2E.providerIn(cluster, "pods-runc", "runc", 2));
      cluster.awaitReady("pods-gvisor");
      cluster.awaitReady("pods-runc");
      Map<String, Map<String, CodeExecutionStatus>> statuses = new LinkedHashMap<>();
      for (boolean bombs : new boolean[] {false, true}) {
        for (String provider : List.of("pods-gvisor", "pods-runc")) {
          // Client-side apply (kubectl's default), as a new user would.
          E2eCluster.kubectl(
              "apply",
              "-f",
              manifests(provider, provider.equals("pods-runc"), bombs).toString(),
              "-n",
              cluster.namespace());
        }
        for (String provider : List.of("pods-gvisor", "pods-runc")) {
          for (Case c : cases(provider.equals("pods-runc"), bombs)) {
            CodeExecution cx =
                cluster.awaitTerminal(c.name() + "-" + provider, Duration.ofMinutes(3));
            statuses
                .computeIfAbsent("cluster/" + provider, p -> new LinkedHashMap<>())
                .put(c.name(), cx.getStatus());
            if (c.name().startsWith("background")) {
              String pod = cx.getStatus().getSandbox().getId();
              await("pod " + pod + " deleted with the child still in it")
                  .atMost(Duration.ofSeconds(60))
                  .until(
                      () ->
                          cluster
                                  .client()
                                  .pods()
                                  .inNamespace(cluster.namespace())
                                  .withName(pod)
                                  .get()
                              == null);
            }
          }
        }
      }
      byTarget.putAll(statuses);
    }

    List<String> failures = new ArrayList<>();
    for (Case c : CASES) {
      Map<String, String> signatures = new LinkedHashMap<>();
      byTarget.forEach(
          (target, statuses) -> {
            CodeExecutionStatus status = statuses.get(c.name());
            if (status == null) {
              return; // not run on this target
            }
            Expect expect =
                target.startsWith("cluster/") && c.inCluster() != null ? c.inCluster() : c.expect();
            try {
              check(expect, status);
              if (target.startsWith("cluster/") && c.inCluster() != null) {
                return; // a difference the docs explain: not compared
              }
              signatures.put(target, signature(status, !c.name().equals("fork-bomb")));
            } catch (AssertionError e) {
              failures.add(
                  c.name()
                      + " on "
                      + target
                      + ": "
                      + e.getMessage().strip()
                      + " (message: "
                      + status.getMessage()
                      + ")");
            }
          });
      if (signatures.values().stream().distinct().count() > 1) {
        failures.add(c.name() + " differs between paths: " + signatures);
      }
    }
    assertThat(failures).as("cases that break parity").isEmpty();
  }

  private static void check(Expect expect, CodeExecutionStatus status) throws AssertionError {
    assertThat(status.getPhase()).isEqualTo(expect.phase());
    assertThat(Conditions.reason(status.getConditions(), ConditionTypes.SUCCEEDED))
        .isIn(expect.reasons());
    if (!expect.reasons().contains(CodeExecutionReason.USER_CODE_ERROR.value())
        || expect.reasons().size() == 1) {
      assertThat(status.getExitCode()).isEqualTo(expect.exitCode());
    }
    if (expect.result() == null) {
      assertThat(status.getResult()).isNull();
    } else {
      // Compared as plain JSON: the status may hold numbers as BigDecimal, the expectation as
      // double.
      assertThat(json(status.getResult().toString())).isEqualTo(json(expect.result()));
    }
    expect.extra().accept(status);
  }

  /** Phase, reason, exit code and result: what must be equal on every path. */
  private static String signature(CodeExecutionStatus status, boolean withReason) {
    return status.getPhase()
        + (withReason
            ? " "
                + Conditions.reason(status.getConditions(), ConditionTypes.SUCCEEDED)
                + " exit "
                + status.getExitCode()
                + " result "
                + canonical(status.getResult())
            : "");
  }

  /** JSON with object keys sorted: the API server stores a result's keys in its own order. */
  private static String canonical(JsonNode value) {
    if (value == null) {
      return "none";
    }
    try {
      return SORTED.writeValueAsString(JSON.convertValue(json(value.toString()), Object.class));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void endedLongBeforeItsLimit(CodeExecutionStatus status) {
    assertThat(status.getDurationMillis())
        .as("ended long before its 60 s limit (a child left running must not hold it)")
        .isLessThan(30_000L);
  }

  /** Every case through `sandbox-operator run` on the podman engine of one OCI runtime. */
  private static Map<String, CodeExecutionStatus> runCommand(String runtime) throws IOException {
    String host = DockerEngines.host(runtime);
    String providerName = "podman-" + runtime;
    Path provider = Files.createTempFile("parity-provider-", ".yaml");
    Files.writeString(
        provider,
        """
        apiVersion: sandboxes.dev/v1alpha1
        kind: SandboxProvider
        metadata: {name: %s}
        spec:
          type: Docker
          docker: {host: "%s", runtime: %s, poolSize: 3}
          limits: {maxOutputBytes: 4096, maxConcurrentExecutions: 3}
        """
            .formatted(providerName, host, runtime));
    Path executions = manifests(providerName, false, null);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    OperatorConfig config =
        OperatorConfig.defaults()
            .withIsolationPolicy(
                IsolationPolicy.defaults().alsoAllowing(Set.of("runc"), Set.of(), Set.of()));
    RunCommand command =
        new RunCommand(
            Backends.factory(),
            config,
            System.getenv(),
            new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8),
            Clock.systemUTC());
    int exit =
        new CommandLine(command)
            .execute(
                "--provider", provider.toString(), "-f", executions.toString(), "-o", "json", "-q");
    // 1 or 2: cases fail by design (a fork bomb may end as SandboxFailed, which counts as 2).
    assertThat(exit)
        .as("run's exit status; stderr: %s", err.toString(StandardCharsets.UTF_8))
        .isIn(1, 2);
    JsonNode list = json(out.toString(StandardCharsets.UTF_8));
    Map<String, CodeExecutionStatus> statuses = new LinkedHashMap<>();
    for (JsonNode item : list.get("items")) {
      String name = item.at("/metadata/name").asText();
      statuses.put(
          name.substring(0, name.length() - providerName.length() - 1),
          JSON.treeToValue(item.get("status"), CodeExecutionStatus.class));
    }
    return statuses;
  }

  /** The cases of one wave: the bombs, or the rest; on runc pods only those marked for it. */
  private static List<Case> cases(boolean runcSubset, boolean bombs) {
    return CASES.stream()
        .filter(c -> !runcSubset || c.onRuncPods())
        .filter(c -> c.name().endsWith("-bomb") == bombs)
        .toList();
  }

  /** The cases' manifests for one provider (names suffixed with it), plus the ConfigMap. */
  private static Path manifests(String provider, boolean runcSubset, Boolean bombs) {
    StringBuilder text = new StringBuilder(CONFIG_MAP);
    for (Case c : CASES) {
      if ((runcSubset && !c.onRuncPods())
          || (bombs != null && c.name().endsWith("-bomb") != bombs)) {
        continue;
      }
      text.append("---\n")
          .append(
              c.manifest()
                  .replace("__NAME__", c.name() + "-" + provider)
                  .replace("__PROVIDER__", provider));
    }
    try {
      Path file = Files.createTempFile("parity-" + provider + "-", ".yaml");
      Files.writeString(file, text);
      return file;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String function(
      String language, String code, String argumentsJson, int timeoutSeconds) {
    return """
        apiVersion: sandboxes.dev/v1alpha1
        kind: CodeExecution
        metadata: {name: __NAME__}
        spec:
          providerRef: {name: __PROVIDER__}
          language: %s
          code: %s
          argumentsJSON: %s
          timeoutSeconds: %d
        """
        .formatted(language, quote(code), quote(argumentsJson), timeoutSeconds);
  }

  private static String script(String language, String code, int timeoutSeconds) {
    return """
        apiVersion: sandboxes.dev/v1alpha1
        kind: CodeExecution
        metadata: {name: __NAME__}
        spec:
          providerRef: {name: __PROVIDER__}
          language: %s
          mode: Script
          code: %s
          timeoutSeconds: %d
        """
        .formatted(language, quote(code), timeoutSeconds);
  }

  /** A YAML double-quoted scalar (JSON string syntax is valid YAML). */
  private static String quote(String text) {
    try {
      return JSON.writeValueAsString(text);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static JsonNode json(String text) {
    try {
      return JSON.readTree(text);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
