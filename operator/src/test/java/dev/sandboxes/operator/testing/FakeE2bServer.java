package dev.sandboxes.operator.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An in-process E2B-protocol service on loopback (docs/providers/e2b.md cites the public sources
 * per behaviour: e2b-dev/E2B spec/openapi.yml, e2b-dev/infra packages/envd) that really runs code:
 * the REST control plane on one listener; envd's process API (Connect streaming, 5-byte envelopes,
 * the 0x02 end-of-stream message) on a second listener, routed by the E2b-Sandbox-Id and
 * E2b-Sandbox-Port headers (the code interpreter's /execute is left out: the backend does not use
 * it, so its port answers as a closed one). As the real service: processes run through envd's
 * /bin/sh wrapper (a missing interpreter is exit 127), envd checks the access token and that a
 * named user exists, creation checks the plan's longest timeout and the envd version a secure
 * sandbox needs. Processes run locally (python3, node), without isolation. Hooks inject the faults
 * the backend must survive, 503 sandbox_capacity_unavailable among them.
 */
public final class FakeE2bServer implements AutoCloseable {

  public static final String DEFAULT_TEMPLATE = "code-interpreter-v1";

  /** envd of current templates (E2B-INFRA packages/envd/pkg/version.go). */
  public static final String CURRENT_ENVD = "0.6.13";

  private static final int ENVD_PORT = 49983;
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final SecureRandom RANDOM = new SecureRandom();

  /**
   * envd's process wrapper since 2026-03 (E2B-INFRA #2028, services/process/handler/handler.go):
   * every process runs as {@code /bin/sh -c '<this>' -- cmd args}, so a missing program is exit
   * 127.
   */
  static final String ENVD_WRAPPER = "echo 100 > /proc/$$/oom_score_adj && exec \"${@}\"";

  /** An HTTP answer a test scripts for a route. */
  public record Scripted(int status, String body, Map<String, String> headers) {
    public static Scripted json(int status, String body) {
      return new Scripted(status, body, Map.of());
    }
  }

  /** One sandbox. */
  public final class Sandbox {
    final String id;
    final String template;
    final String accessToken;
    final Map<String, String> metadata;
    final long timeoutSeconds;
    volatile Instant endAt;
    final List<RunningProcess> processes = new CopyOnWriteArrayList<>();
    final CountDownLatch gone = new CountDownLatch(1);
    final AtomicInteger starts = new AtomicInteger();

    Sandbox(String id, String template, Map<String, String> metadata, long timeoutSeconds) {
      this.id = id;
      this.template = template;
      this.accessToken = "ea_" + hex(12);
      this.metadata = metadata;
      this.timeoutSeconds = timeoutSeconds;
      this.endAt = Instant.now().plusSeconds(timeoutSeconds);
    }

    public String id() {
      return id;
    }

    public String template() {
      return template;
    }

    public Map<String, String> metadata() {
      return metadata;
    }

    public long timeoutSeconds() {
      return timeoutSeconds;
    }

    /** How many processes were started in it. */
    public int starts() {
      return starts.get();
    }

    /** Processes still running in it. */
    public int running() {
      return (int) processes.stream().filter(p -> p.process.isAlive()).count();
    }
  }

  /** A process started through envd. */
  static final class RunningProcess {
    final Process process;
    final OutputStream stdin;

    RunningProcess(Process process) {
      this.process = process;
      this.stdin = process.getOutputStream();
    }

    void kill() {
      process.descendants().forEach(ProcessHandle::destroyForcibly);
      process.destroyForcibly();
    }
  }

  private final String apiKey;
  private final HttpServer api;
  private final HttpServer sandboxHost;
  private final ExecutorService threads;
  private final ScheduledExecutorService reaper;
  private final Map<String, Sandbox> live = new ConcurrentHashMap<>();
  private final Set<String> templates = ConcurrentHashMap.newKeySet();
  private final List<JsonNode> createRequests = new CopyOnWriteArrayList<>();
  private final List<String> killed = new CopyOnWriteArrayList<>();
  private final List<String> journal = new CopyOnWriteArrayList<>();
  private final AtomicInteger peakLive = new AtomicInteger();
  private final ConcurrentLinkedDeque<Scripted> createAnswers = new ConcurrentLinkedDeque<>();
  private final ConcurrentLinkedDeque<Scripted> startAnswers = new ConcurrentLinkedDeque<>();
  private final ConcurrentLinkedDeque<Scripted> probeAnswers = new ConcurrentLinkedDeque<>();
  private volatile Integer quota;
  private volatile boolean stallStreams;
  private volatile int slowChunkBytes;
  private volatile Duration slowChunkDelay = Duration.ZERO;
  private volatile Duration envdDeadline;
  private volatile String trailerErrorCode;
  private volatile String trailerErrorMessage;
  private volatile boolean rejectAccessTokens;
  private volatile boolean echoKeys;
  private volatile boolean vanishOnStart;
  private volatile boolean envdDown;
  private final Set<String> missingCommands = ConcurrentHashMap.newKeySet();
  private volatile java.nio.file.Path pathWithoutMissing;
  private final Map<String, String> envdVersions = new ConcurrentHashMap<>();
  private final Map<String, Set<String>> templateUsers = new ConcurrentHashMap<>();
  private final AtomicInteger capacityRefusals = new AtomicInteger();
  private final List<String> envdProtocols = new CopyOnWriteArrayList<>();
  private final List<String> envdUsers = new CopyOnWriteArrayList<>();
  private volatile int maxSandboxHours = 1;

  public FakeE2bServer(String apiKey) throws IOException {
    this.apiKey = apiKey;
    templates.add(DEFAULT_TEMPLATE);
    AtomicInteger counter = new AtomicInteger();
    this.threads =
        Executors.newCachedThreadPool(
            r -> {
              Thread thread = new Thread(r, "fake-e2b-" + counter.incrementAndGet());
              thread.setDaemon(true);
              return thread;
            });
    this.reaper =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread thread = new Thread(r, "fake-e2b-reaper");
              thread.setDaemon(true);
              return thread;
            });
    InetAddress loopback = InetAddress.getLoopbackAddress();
    this.api = HttpServer.create(new InetSocketAddress(loopback, 0), 64);
    api.createContext("/", this::handleApi);
    api.setExecutor(threads);
    this.sandboxHost = HttpServer.create(new InetSocketAddress(loopback, 0), 64);
    sandboxHost.createContext("/", this::handleSandbox);
    sandboxHost.setExecutor(threads);
    api.start();
    sandboxHost.start();
    reaper.scheduleWithFixedDelay(this::reapExpired, 200, 200, TimeUnit.MILLISECONDS);
  }

  /** A key in E2B's format. */
  public static String newApiKey() {
    return "e2b_" + hex(20);
  }

  public String apiUrl() {
    return "http://" + api.getAddress().getHostString() + ":" + api.getAddress().getPort();
  }

  /** The one base URL for all sandbox traffic (routing by header). */
  public String sandboxUrl() {
    return "http://"
        + sandboxHost.getAddress().getHostString()
        + ":"
        + sandboxHost.getAddress().getPort();
  }

  // ---- state for assertions ----

  public Set<String> liveSandboxes() {
    return Set.copyOf(live.keySet());
  }

  public Sandbox sandbox(String id) {
    return live.get(id);
  }

  public List<JsonNode> createRequests() {
    return List.copyOf(createRequests);
  }

  public List<String> killedSandboxes() {
    return List.copyOf(killed);
  }

  /** Most sandboxes alive at once. */
  public int peakLive() {
    return peakLive.get();
  }

  /** "create id", "start id", "input id", "kill id" in order. */
  public List<String> journal() {
    return List.copyOf(journal);
  }

  /** Processes running in any sandbox (killed sandboxes have none). */
  public int runningProcesses() {
    return live.values().stream().mapToInt(Sandbox::running).sum();
  }

  // ---- faults ----

  public void addTemplate(String template) {
    templates.add(template);
  }

  /** The next creations get these answers instead of a sandbox, in order. */
  public void scriptCreates(Scripted... answers) {
    createAnswers.addAll(List.of(answers));
  }

  /** 429s like E2B's when more than this many sandboxes would be alive. */
  public void quota(Integer maxLive) {
    this.quota = maxLive;
  }

  /** The next process starts get these HTTP answers instead of a stream. */
  public void scriptStarts(Scripted... answers) {
    startAnswers.addAll(List.of(answers));
  }

  /** The next sandbox listings (the health probe) get these answers. */
  public void scriptProbes(Scripted... answers) {
    probeAnswers.addAll(List.of(answers));
  }

  /** Streams send the start event, then nothing at all, until the sandbox is killed. */
  public void stallStreams(boolean stall) {
    this.stallStreams = stall;
  }

  /** Output goes out in frames of this many bytes with a pause before each. */
  public void slowStreams(int chunkBytes, Duration delay) {
    this.slowChunkBytes = chunkBytes;
    this.slowChunkDelay = delay;
  }

  /** envd kills processes after this instead of the client's Connect-Timeout-Ms. */
  public void envdDeadline(Duration deadline) {
    this.envdDeadline = deadline;
  }

  /** Streams end with this Connect error once the process ends, without an end event. */
  public void endStreamsWithError(String code, String message) {
    this.trailerErrorCode = code;
    this.trailerErrorMessage = message;
  }

  /** envd refuses every access token (401). */
  public void rejectAccessTokens(boolean reject) {
    this.rejectAccessTokens = reject;
  }

  /**
   * Error messages repeat the API key the client sent (services should not; the operator must
   * cope).
   */
  public void echoKeysInErrors(boolean echo) {
    this.echoKeys = echo;
  }

  /** Templates lack this program: envd's shell cannot exec it (exit 127, "not found" on stderr). */
  public synchronized void withoutCommand(String command) {
    missingCommands.add(command);
    pathWithoutMissing = null;
  }

  /** The envd version a template reports (default {@link #CURRENT_ENVD}); null for none. */
  public void envdVersion(String template, String version) {
    envdVersions.put(template, version == null ? "" : version);
  }

  /** The OS users a template's image has (default: user and root); envd refuses other names. */
  public void templateUsers(String template, String... users) {
    templateUsers.put(template, Set.of(users));
  }

  /**
   * The next creations answer 503 sandbox_capacity_unavailable, as placement does when no node has
   * room.
   */
  public void capacityUnavailableNext(int times) {
    capacityRefusals.set(times);
  }

  /** The plan's longest sandbox life in hours (hobby: 1); a longer timeout is refused with 400. */
  public void maxSandboxHours(int hours) {
    this.maxSandboxHours = hours;
  }

  /**
   * The HTTP version of each envd request, in order ("HTTP/1.1" here: the JDK server has no
   * HTTP/2).
   */
  public List<String> envdProtocols() {
    return List.copyOf(envdProtocols);
  }

  /** The Basic user of each envd request ("" when none was sent). */
  public List<String> envdUsers() {
    return List.copyOf(envdUsers);
  }

  /** The sandbox disappears right after the next process starts, as if its host died. */
  /** New and running sandboxes' envd stops (true) or starts again (false) answering. */
  public void envdDown(boolean down) {
    this.envdDown = down;
  }

  public void vanishOnNextStart() {
    this.vanishOnStart = true;
  }

  /** The sandbox disappears now: processes killed, streams cut without an end. */
  public void vanish(String sandboxId) {
    remove(sandboxId, false);
  }

  // ---- REST control plane ----

  private void handleApi(HttpExchange exchange) throws IOException {
    try (exchange) {
      String key = exchange.getRequestHeaders().getFirst("X-API-Key");
      if (key == null || !key.equals(apiKey) || !key.matches("e2b_[0-9a-f]+")) {
        sendJson(
            exchange,
            401,
            "{\"code\":401,\"message\":"
                + quote(
                    "Invalid API key"
                        + (echoKeys ? " " + key : "")
                        + ", please visit https://e2b.dev/docs to get your"
                        + " API key.")
                + "}");
        return;
      }
      String method = exchange.getRequestMethod();
      String path = exchange.getRequestURI().getRawPath();
      if ("POST".equals(method) && "/sandboxes".equals(path)) {
        create(exchange);
      } else if ("GET".equals(method)
          && ("/v2/sandboxes".equals(path) || "/sandboxes".equals(path))) {
        list(exchange);
      } else if (path.startsWith("/sandboxes/")) {
        String rest = path.substring("/sandboxes/".length());
        boolean timeout = rest.endsWith("/timeout");
        String id = timeout ? rest.substring(0, rest.length() - "/timeout".length()) : rest;
        Sandbox sandbox = live.get(id);
        if (sandbox == null) {
          sendJson(
              exchange,
              404,
              "{\"code\":404,\"message\":"
                  + quote("Sandbox \"" + id + "\" doesn't exist or you don't have access to it")
                  + "}");
        } else if ("GET".equals(method) && !timeout) {
          sendJson(exchange, 200, describe(sandbox).toString());
        } else if ("DELETE".equals(method) && !timeout) {
          remove(id, true);
          exchange.sendResponseHeaders(204, -1);
        } else if ("POST".equals(method) && timeout) {
          JsonNode body = JSON.readTree(exchange.getRequestBody().readAllBytes());
          sandbox.endAt = Instant.now().plusSeconds(body.path("timeout").asLong());
          exchange.sendResponseHeaders(204, -1);
        } else {
          sendJson(exchange, 404, "{\"code\":404,\"message\":\"not found\"}");
        }
      } else {
        sendJson(exchange, 404, "{\"code\":404,\"message\":\"not found\"}");
      }
    }
  }

  private void create(HttpExchange exchange) throws IOException {
    JsonNode body = JSON.readTree(exchange.getRequestBody().readAllBytes());
    createRequests.add(body);
    Scripted scripted = createAnswers.poll();
    if (scripted != null) {
      send(exchange, scripted);
      return;
    }
    String template = body.path("templateID").asText(null);
    if (template == null) {
      sendJson(exchange, 400, "{\"code\":400,\"message\":\"templateID is required\"}");
      return;
    }
    if (!templates.contains(template)) {
      sendJson(
          exchange,
          404,
          "{\"code\":404,\"message\":" + quote("template '" + template + "' not found") + "}");
      return;
    }
    long timeout = body.path("timeout").asLong(15);
    if (timeout <= 0) {
      sendJson(exchange, 400, "{\"code\":400,\"message\":\"Timeout must be greater than 0\"}");
      return;
    }
    if (timeout > maxSandboxHours * 3600L) {
      sendJson(
          exchange,
          400,
          "{\"code\":400,\"message\":\"Timeout cannot be greater than "
              + maxSandboxHours
              + " hours\"}");
      return;
    }
    String envdVersion = envdVersions.getOrDefault(template, CURRENT_ENVD);
    if (body.path("secure").asBoolean(false)) {
      if (envdVersion.isEmpty()) {
        sendJson(
            exchange,
            400,
            "{\"code\":400,\"message\":\"You need to re-build template to allow using secured access."
                + " Please visit https://e2b.dev/docs/sandbox/secured-access for more information.\"}");
        return;
      }
      if (compareVersions(envdVersion, "0.2.0") < 0) {
        sendJson(
            exchange,
            400,
            "{\"code\":400,\"message\":\"Template is not compatible with secured access."
                + " Please visit https://e2b.dev/docs/sandbox/secured-access for more information.\"}");
        return;
      }
    }
    if (capacityRefusals.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
      sendJson(
          exchange,
          503,
          "{\"code\":503,\"error_code\":\"sandbox_capacity_unavailable\",\"message\":"
              + "\"Failed to place sandbox: not enough capacity for the requested resources right now, please retry shortly\"}");
      return;
    }
    Map<String, String> metadata = new LinkedHashMap<>();
    body.path("metadata")
        .fields()
        .forEachRemaining(e -> metadata.put(e.getKey(), e.getValue().asText()));
    Sandbox sandbox;
    synchronized (live) {
      Integer limit = quota;
      if (limit != null && live.size() >= limit) {
        sendJson(
            exchange,
            429,
            "{\"code\":429,\"message\":"
                + quote(
                    "you have reached the maximum number of"
                        + " concurrent E2B sandboxes ("
                        + limit
                        + "). If you need more, please contact us.")
                + "}");
        return;
      }
      sandbox = new Sandbox("i" + hex(10), template, metadata, timeout);
      live.put(sandbox.id, sandbox);
      peakLive.accumulateAndGet(live.size(), Math::max);
    }
    journal.add("create " + sandbox.id);
    ObjectNode answer = describe(sandbox);
    if (body.path("secure").asBoolean(false)) {
      answer.put("envdAccessToken", sandbox.accessToken);
    }
    sendJson(exchange, 201, answer.toString());
  }

  private ObjectNode describe(Sandbox sandbox) {
    ObjectNode node = JSON.createObjectNode();
    node.put("templateID", sandbox.template);
    node.put("sandboxID", sandbox.id);
    node.put("clientID", "fake");
    node.put("envdVersion", envdVersions.getOrDefault(sandbox.template, CURRENT_ENVD));
    node.put("state", "running");
    node.put("endAt", sandbox.endAt.toString());
    node.putNull("domain");
    ObjectNode meta = node.putObject("metadata");
    sandbox.metadata.forEach(meta::put);
    return node;
  }

  private void list(HttpExchange exchange) throws IOException {
    Scripted scripted = probeAnswers.poll();
    if (scripted != null) {
      send(exchange, scripted);
      return;
    }
    Map<String, String> query = query(exchange.getRequestURI().getRawQuery());
    Map<String, String> wanted =
        query.containsKey("metadata") ? query(query.get("metadata")) : Map.of();
    int limit = query.containsKey("limit") ? Integer.parseInt(query.get("limit")) : 1000;
    ArrayNode items = JSON.createArrayNode();
    for (Sandbox sandbox : live.values()) {
      boolean matches =
          wanted.entrySet().stream()
              .allMatch(e -> e.getValue().equals(sandbox.metadata.get(e.getKey())));
      if (matches && items.size() < limit) {
        items.add(describe(sandbox));
      }
    }
    sendJson(exchange, 200, items.toString());
  }

  private void remove(String id, boolean byApi) {
    Sandbox sandbox = live.remove(id);
    if (sandbox == null) {
      return;
    }
    journal.add((byApi ? "kill " : "vanish ") + id);
    if (byApi) {
      killed.add(id);
    }
    // Gone before the processes die: a stream handler woken by its process's death must see that
    // the sandbox went, and cut the stream instead of reporting an exit (a killed process's end
    // event never leaves a sandbox that no longer exists).
    sandbox.gone.countDown();
    sandbox.processes.forEach(RunningProcess::kill);
  }

  private void reapExpired() {
    Instant now = Instant.now();
    for (Sandbox sandbox : live.values()) {
      if (now.isAfter(sandbox.endAt)) {
        remove(sandbox.id, false);
      }
    }
  }

  // ---- sandbox traffic ----

  private void handleSandbox(HttpExchange exchange) throws IOException {
    try (exchange) {
      String id = exchange.getRequestHeaders().getFirst("E2b-Sandbox-Id");
      String port = exchange.getRequestHeaders().getFirst("E2b-Sandbox-Port");
      Sandbox sandbox = id == null ? null : live.get(id);
      if (sandbox == null) {
        sendJson(
            exchange,
            502,
            "{\"sandboxId\":"
                + quote(String.valueOf(id))
                + ",\"message\":\"The sandbox was not found\",\"code\":502}");
        return;
      }
      String token = exchange.getRequestHeaders().getFirst("X-Access-Token");
      String path = exchange.getRequestURI().getPath();
      if (String.valueOf(ENVD_PORT).equals(port) && envdDown) {
        // envd is not listening (a template whose envd does not start): the client proxy answers
        // as for any closed port of a running sandbox (the branch below).
        sendJson(
            exchange,
            502,
            "{\"sandboxId\":"
                + quote(id)
                + ",\"message\":\"The sandbox is running but port is not open\",\"port\":"
                + quote(String.valueOf(port))
                + ",\"code\":502}");
      } else if (String.valueOf(ENVD_PORT).equals(port)) {
        if (rejectAccessTokens || !sandbox.accessToken.equals(token)) {
          sendJson(
              exchange, 401, "{\"code\":\"unauthenticated\",\"message\":\"invalid access token\"}");
          return;
        }
        envdProtocols.add(exchange.getProtocol());
        String user = basicUser(exchange.getRequestHeaders().getFirst("Authorization"));
        envdUsers.add(user == null ? "" : user);
        // envd's authn middleware (E2B-INFRA envd/internal/permissions/authenticate.go): a named
        // user must exist; without one envd 0.4.0+ uses the template's default user.
        if (user != null
            && !templateUsers
                .getOrDefault(sandbox.template, Set.of("user", "root"))
                .contains(user)) {
          sendJson(
              exchange,
              401,
              "{\"code\":\"unauthenticated\",\"message\":"
                  + quote("invalid username: '" + user + "'")
                  + "}");
          return;
        }
        if (user == null
            && compareVersions(envdVersions.getOrDefault(sandbox.template, CURRENT_ENVD), "0.4.0")
                < 0) {
          sendJson(
              exchange, 401, "{\"code\":\"unauthenticated\",\"message\":\"no user specified\"}");
          return;
        }
        switch (path) {
          case "/process.Process/Start" -> startProcess(exchange, sandbox);
          case "/process.Process/SendInput" -> sendInput(exchange, sandbox);
          case "/health" -> exchange.sendResponseHeaders(204, -1);
          default ->
              sendJson(exchange, 404, "{\"code\":\"not_found\",\"message\":\"no such procedure\"}");
        }
      } else {
        sendJson(
            exchange,
            502,
            "{\"sandboxId\":"
                + quote(id)
                + ",\"message\":\"The sandbox is running but port is not open\",\"port\":"
                + quote(String.valueOf(port))
                + ",\"code\":502}");
      }
    }
  }

  private void startProcess(HttpExchange exchange, Sandbox sandbox) throws IOException {
    String contentType = exchange.getRequestHeaders().getFirst("Content-Type");
    if (!"application/connect+json".equals(contentType)
        || !"1".equals(exchange.getRequestHeaders().getFirst("Connect-Protocol-Version"))) {
      sendJson(
          exchange,
          415,
          "{\"code\":\"invalid_argument\",\"message\":\"expected a Connect streaming JSON request\"}");
      return;
    }
    Scripted scripted = startAnswers.poll();
    if (scripted != null) {
      send(exchange, scripted);
      return;
    }
    JsonNode request = readEnvelope(exchange.getRequestBody());
    sandbox.starts.incrementAndGet();
    journal.add("start " + sandbox.id);
    List<String> argv = new ArrayList<>(List.of("/bin/sh", "-c", ENVD_WRAPPER, "--"));
    argv.add(request.path("process").path("cmd").asText());
    request.path("process").path("args").forEach(a -> argv.add(a.asText()));
    ProcessBuilder builder = new ProcessBuilder(argv).directory(new java.io.File("/tmp"));
    // The image's PATH (envd passes its own PATH on), not this machine's version-manager shims.
    builder.environment().put("PATH", sandboxPath());
    // A sandbox VM has /tmp/outputs to itself; these processes share one machine, so each gets its
    // own.
    builder
        .environment()
        .put(
            "SANDBOX_OUTPUT_DIR",
            LocalInterpreters.applyTo(new ProcessBuilder("true"))
                .environment()
                .get("SANDBOX_OUTPUT_DIR"));
    request
        .path("process")
        .path("envs")
        .fields()
        .forEachRemaining(e -> builder.environment().put(e.getKey(), e.getValue().asText()));
    exchange.getResponseHeaders().set("Content-Type", "application/connect+json");
    exchange.sendResponseHeaders(200, 0);
    FrameWriter out = new FrameWriter(exchange.getResponseBody());
    RunningProcess running;
    try {
      running = new RunningProcess(builder.start());
    } catch (IOException e) {
      // Only /bin/sh itself missing gets here; envd answers that as a start error.
      out.end(
          "{\"error\":{\"code\":\"internal\",\"message\":"
              + quote("error starting process: " + e.getMessage())
              + "}}");
      return;
    }
    sandbox.processes.add(running);
    if (sandbox.gone.getCount() == 0) {
      running.kill(); // the sandbox went while the process started: remove() did not see it
    }
    if (!request.path("stdin").asBoolean(false)) {
      running.stdin.close();
    }
    out.data("{\"event\":{\"start\":{\"pid\":" + running.process.pid() + "}}}");
    out.data("{\"event\":{\"keepalive\":{}}}");
    if (vanishOnStart) {
      vanishOnStart = false;
      vanish(sandbox.id);
      return; // the connection drops, as when the sandbox's host dies
    }
    Thread stdout = pump(running.process.getInputStream(), "stdout", out);
    Thread stderr = pump(running.process.getErrorStream(), "stderr", out);
    String deadlineHeader = exchange.getRequestHeaders().getFirst("Connect-Timeout-Ms");
    long deadlineMillis =
        envdDeadline != null
            ? envdDeadline.toMillis()
            : deadlineHeader != null ? Long.parseLong(deadlineHeader) : Long.MAX_VALUE;
    boolean exited;
    try {
      exited = running.process.waitFor(deadlineMillis, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    }
    if (!exited) {
      running.kill();
      if (sandbox.gone.getCount() == 0) {
        return;
      }
      out.end(
          "{\"error\":{\"code\":\"deadline_exceeded\",\"message\":\"context deadline exceeded\"}}");
      return;
    }
    join(stdout);
    join(stderr);
    if (stallStreams) {
      try {
        sandbox.gone.await(); // nothing more until the client gives up and kills the sandbox
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return;
    }
    if (sandbox.gone.getCount() == 0) {
      return; // killed or vanished: the stream is cut
    }
    if (trailerErrorCode != null) {
      out.end(
          "{\"error\":{\"code\":"
              + quote(trailerErrorCode)
              + ",\"message\":"
              + quote(trailerErrorMessage)
              + "}}");
      return;
    }
    int exit = running.process.exitValue();
    ObjectNode end = JSON.createObjectNode();
    String signal = exit == 137 ? "killed" : exit == 143 ? "terminated" : null;
    if (signal != null) {
      end.put("exitCode", -1);
      end.put(
          "status", "signal: " + signal); // exited is false and so left out, as proto3 JSON does
    } else {
      if (exit != 0) {
        end.put("exitCode", exit); // zero is left out, as proto3 JSON does
      }
      end.put("exited", true);
      end.put("status", "exit status " + exit);
    }
    out.data("{\"event\":{\"end\":" + end + "}}");
    out.end("{}");
  }

  private Thread pump(InputStream in, String stream, FrameWriter out) {
    Thread thread =
        new Thread(
            () -> {
              byte[] buffer = new byte[32 * 1024];
              try {
                int read;
                while ((read = in.read(buffer)) >= 0) {
                  if (stallStreams) {
                    continue; // drained, never sent
                  }
                  int chunk = slowChunkBytes > 0 ? slowChunkBytes : read;
                  for (int offset = 0; offset < read; offset += chunk) {
                    if (!slowChunkDelay.isZero()) {
                      Thread.sleep(slowChunkDelay.toMillis());
                    }
                    int length = Math.min(chunk, read - offset);
                    byte[] part = new byte[length];
                    System.arraycopy(buffer, offset, part, 0, length);
                    out.data(
                        "{\"event\":{\"data\":{\""
                            + stream
                            + "\":\""
                            + Base64.getEncoder().encodeToString(part)
                            + "\"}}}");
                  }
                }
              } catch (IOException | InterruptedException gone) {
                // the process or the client went away
              }
            },
            "fake-e2b-pump");
    thread.setDaemon(true);
    thread.start();
    return thread;
  }

  private void sendInput(HttpExchange exchange, Sandbox sandbox) throws IOException {
    if (!"application/json".equals(exchange.getRequestHeaders().getFirst("Content-Type"))) {
      sendJson(
          exchange,
          415,
          "{\"code\":\"invalid_argument\",\"message\":\"expected application/json\"}");
      return;
    }
    JsonNode request = JSON.readTree(exchange.getRequestBody().readAllBytes());
    long pid = request.path("process").path("pid").asLong();
    RunningProcess target =
        sandbox.processes.stream().filter(p -> p.process.pid() == pid).findFirst().orElse(null);
    if (target == null || !target.process.isAlive()) {
      sendJson(
          exchange,
          404,
          "{\"code\":\"not_found\",\"message\":\"process with pid " + pid + " not found\"}");
      return;
    }
    byte[] data = Base64.getDecoder().decode(request.path("input").path("stdin").asText());
    try {
      target.stdin.write(data);
      target.stdin.flush();
    } catch (IOException e) {
      sendJson(exchange, 500, "{\"code\":\"internal\",\"message\":\"stdin closed\"}");
      return;
    }
    journal.add("input " + sandbox.id);
    sendJson(exchange, 200, "{}");
  }

  /** Writes Connect envelopes; pumps and the handler share it. */
  private static final class FrameWriter {
    private final OutputStream out;
    private boolean broken;

    FrameWriter(OutputStream out) {
      this.out = out;
    }

    synchronized void data(String json) {
      write(0, json);
    }

    synchronized void end(String json) {
      write(0x02, json);
    }

    private void write(int flags, String json) {
      if (broken) {
        return;
      }
      byte[] message = json.getBytes(StandardCharsets.UTF_8);
      try {
        out.write(
            ByteBuffer.allocate(5 + message.length)
                .put((byte) flags)
                .putInt(message.length)
                .put(message)
                .array());
        out.flush();
      } catch (IOException e) {
        broken = true; // the client left
      }
    }
  }

  private static JsonNode readEnvelope(InputStream in) throws IOException {
    byte[] body = in.readAllBytes();
    if (body.length < 5 || body[0] != 0) {
      throw new IOException("not a Connect envelope");
    }
    int length = ByteBuffer.wrap(body, 1, 4).getInt();
    return JSON.readTree(new String(body, 5, length, StandardCharsets.UTF_8));
  }

  // ---- helpers ----

  private static void join(Thread thread) {
    try {
      thread.join(10_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static void send(HttpExchange exchange, Scripted scripted) throws IOException {
    scripted.headers().forEach((k, v) -> exchange.getResponseHeaders().set(k, v));
    byte[] bytes = scripted.body().getBytes(StandardCharsets.UTF_8);
    exchange.sendResponseHeaders(scripted.status(), bytes.length == 0 ? -1 : bytes.length);
    if (bytes.length > 0) {
      exchange.getResponseBody().write(bytes);
    }
  }

  private static void sendJson(HttpExchange exchange, int status, String json) throws IOException {
    exchange.getResponseHeaders().set("Content-Type", "application/json");
    send(exchange, new Scripted(status, json, Map.of()));
  }

  /**
   * PATH of sandbox processes: /usr/bin:/bin, or a copy of it without the programs a test removed.
   */
  private synchronized String sandboxPath() {
    if (missingCommands.isEmpty()) {
      return "/usr/bin:/bin";
    }
    if (pathWithoutMissing == null) {
      try {
        java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("fake-e2b-path");
        for (String from : List.of("/usr/bin", "/bin")) {
          java.io.File[] programs = new java.io.File(from).listFiles();
          for (java.io.File program : programs == null ? new java.io.File[0] : programs) {
            java.nio.file.Path link = dir.resolve(program.getName());
            if (!missingCommands.contains(program.getName())
                && !java.nio.file.Files.exists(link, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
              java.nio.file.Files.createSymbolicLink(link, program.toPath());
            }
          }
        }
        dir.toFile().deleteOnExit();
        pathWithoutMissing = dir;
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }
    return pathWithoutMissing.toString();
  }

  private static String basicUser(String authorization) {
    if (authorization == null || !authorization.startsWith("Basic ")) {
      return null;
    }
    String decoded =
        new String(
            Base64.getDecoder().decode(authorization.substring(6).strip()), StandardCharsets.UTF_8);
    int colon = decoded.indexOf(':');
    return colon < 0 ? decoded : decoded.substring(0, colon);
  }

  private static int compareVersions(String a, String b) {
    String[] left = a.split("\\.");
    String[] right = b.split("\\.");
    for (int i = 0; i < 3; i++) {
      int l = i < left.length ? Integer.parseInt(left[i].replaceAll("\\D.*", "")) : 0;
      int r = i < right.length ? Integer.parseInt(right[i].replaceAll("\\D.*", "")) : 0;
      if (l != r) {
        return Integer.compare(l, r);
      }
    }
    return 0;
  }

  private static Map<String, String> query(String raw) {
    Map<String, String> values = new LinkedHashMap<>();
    if (raw == null || raw.isEmpty()) {
      return values;
    }
    for (String pair : raw.split("&")) {
      int eq = pair.indexOf('=');
      String key = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
      String value =
          eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
      values.put(key, value);
    }
    return values;
  }

  private static String quote(String value) {
    try {
      return JSON.writeValueAsString(value);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String hex(int bytes) {
    byte[] random = new byte[bytes];
    RANDOM.nextBytes(random);
    return HexFormat.of().formatHex(random);
  }

  @Override
  public void close() {
    for (String id : liveSandboxes()) {
      remove(id, false);
    }
    reaper.shutdownNow();
    api.stop(0);
    sandboxHost.stop(0);
    threads.shutdownNow();
  }
}
