package dev.sandboxes.operator.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * An in-process AgentRun service (API 2025-09-10) on loopback for tests, behaving as the public
 * sources document the real one (docs/providers/aliyun.md cites them per behaviour): a control
 * plane (templates, sandbox listing and the control-plane sandbox operations; ACS3-HMAC-SHA256
 * checked with an independent implementation, {@link AgentRunSignatures}) and a data plane (the
 * sandbox lifecycle as the official SDK uses it, health, files, shell commands;
 * AGENTRUN4-HMAC-SHA256 checked). Commands really run, in a local shell in a directory per sandbox,
 * so python3 and node produce genuine results; the gateway answers 504 when a command passes 30 s.
 * Deleted sandboxes linger in listings as TERMINATED. Faults are injected on demand: scripted
 * errors, HTML 502s from the gateway, throttling of any operation, a quota, delays, vanishing
 * sandboxes, refused sandbox ids, templates the service refuses.
 */
public final class FakeAgentRunServer implements AutoCloseable {

  public static final String ACCESS_KEY_ID = "LTAI5tFakeAccessKeyId01";
  public static final String ACCESS_KEY_SECRET = "fake-access-key-secret-for-tests-only";
  public static final String ACCOUNT_ID = "1234567890123456";
  public static final String REGION = "cn-hangzhou";
  private static final String VERSION = "2025-09-10";
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration CLOCK_SKEW = Duration.ofMinutes(15);

  /** The gateway's limit on a synchronous call (CI-V1-DOC, RAGFlow; the 504 per issue 14). */
  public static final Duration GATEWAY_TIMEOUT = Duration.ofSeconds(30);

  /** A request as the fake received it, for assertions. */
  public record Recorded(
      String plane, String method, String path, String action, String body, long receivedNanos) {}

  /** A template's state. */
  private static final class Template {
    final String name;
    final String type;
    final String networkMode;
    volatile String status;
    final AtomicInteger pollsUntilReady;

    Template(String name, String type, String networkMode, String status, int pollsUntilReady) {
      this.name = name;
      this.type = type;
      this.networkMode = networkMode;
      this.status = status;
      this.pollsUntilReady = new AtomicInteger(pollsUntilReady);
    }
  }

  /** A sandbox's state: its directory and the processes its commands run. */
  private static final class Sandbox {
    final String id;
    final String template;
    final int idleTimeoutSeconds;
    final Path root;
    final Instant createdAt;
    volatile String status;
    final AtomicInteger pollsUntilReady;
    final AtomicInteger healthChecksUntilOk;
    final Set<Process> processes = ConcurrentHashMap.newKeySet();

    Sandbox(
        String id,
        String template,
        int idleTimeoutSeconds,
        Path root,
        Instant createdAt,
        int polls,
        int health) {
      this.id = id;
      this.template = template;
      this.idleTimeoutSeconds = idleTimeoutSeconds;
      this.root = root;
      this.createdAt = createdAt;
      this.status = polls > 0 ? "CREATING" : "READY";
      this.pollsUntilReady = new AtomicInteger(polls);
      this.healthChecksUntilOk = new AtomicInteger(health);
    }
  }

  /** A scripted failure of the next calls of one operation. */
  private record Fault(
      int status, String code, String message, Long retryAfterMillis, AtomicInteger remaining) {}

  private final HttpServer control;
  private final HttpServer data;
  private final ExecutorService executor =
      Executors.newCachedThreadPool(
          r -> {
            Thread thread = new Thread(r, "fake-agentrun");
            thread.setDaemon(true);
            return thread;
          });
  private final Path workRoot;
  private final Map<String, Template> templates = new ConcurrentHashMap<>();
  private final Map<String, Sandbox> sandboxes = new ConcurrentHashMap<>();
  private final Set<String> createdIds = ConcurrentHashMap.newKeySet();
  private final Set<String> deletedIds = ConcurrentHashMap.newKeySet();

  /** Deleted or vanished sandboxes: gone from the data plane, still listed as TERMINATED. */
  private final Map<String, Sandbox> terminated = new ConcurrentHashMap<>();

  private final Set<String> nonces = ConcurrentHashMap.newKeySet();
  private final List<Recorded> requests = new CopyOnWriteArrayList<>();
  private final Map<String, List<Fault>> faults = new ConcurrentHashMap<>();
  private final Map<String, Duration> delays = new ConcurrentHashMap<>();
  private final Map<String, Long> largestAnswers = new ConcurrentHashMap<>();
  private final AtomicLong requestIds = new AtomicLong();
  private final AtomicInteger vanishOnCommand = new AtomicInteger();
  private final AtomicInteger concurrentCommands = new AtomicInteger();
  private final AtomicInteger maxConcurrentCommands = new AtomicInteger();
  private final AtomicInteger signatureRejections = new AtomicInteger();
  private volatile int maxSandboxes = Integer.MAX_VALUE;
  private volatile long quotaRetryAfterMillis = 500;
  private volatile int templatePollsUntilReady = 1;
  private volatile int sandboxPollsUntilReady = 0;
  private volatile int healthChecksUntilOk = 0;
  private volatile boolean wrapCommandResult = true;
  private volatile Duration gatewayTimeout = GATEWAY_TIMEOUT;
  private volatile Pattern sandboxIdFormat = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");
  private volatile Response duplicateIdAnswer =
      error(409, "SandboxAlreadyExists", "sandbox already exists");
  private volatile boolean privateNeedsVpc;
  private final Map<String, AtomicInteger> gatewayErrors = new ConcurrentHashMap<>();

  static {
    // The JDK server writes headers and body separately; with Nagle on, the client's delayed ACK
    // adds about 40 ms to every answer, which the real service does not have.
    System.setProperty("sun.net.httpserver.nodelay", "true");
  }

  public FakeAgentRunServer() {
    try {
      InetAddress loopback = InetAddress.getLoopbackAddress();
      control = HttpServer.create(new InetSocketAddress(loopback, 0), 0);
      data = HttpServer.create(new InetSocketAddress(loopback, 0), 0);
      workRoot = Files.createTempDirectory("fake-agentrun");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    control.createContext("/", exchange -> handle(exchange, "control"));
    data.createContext("/", exchange -> handle(exchange, "data"));
    control.setExecutor(executor);
    data.setExecutor(executor);
    control.start();
    data.start();
  }

  // ---- configuration and fault injection ----

  /** The control endpoint to put in spec.aliyun.controlEndpoint. */
  public String controlEndpoint() {
    return "http://127.0.0.1:" + control.getAddress().getPort();
  }

  /** The data endpoint to put in spec.aliyun.dataEndpoint. */
  public String dataEndpoint() {
    return "http://127.0.0.1:" + data.getAddress().getPort();
  }

  /** Adds a PRIVATE template in a given status (READY, CREATING, CREATE_FAILED…). */
  public FakeAgentRunServer withTemplate(String name, String status) {
    return withTemplate(name, status, "PRIVATE");
  }

  /** Adds a template in a given status with a networkMode (PUBLIC, PRIVATE, PUBLIC_AND_PRIVATE). */
  public FakeAgentRunServer withTemplate(String name, String status, String networkMode) {
    templates.put(
        name,
        new Template(name, "CodeInterpreter", networkMode, status, Integer.MAX_VALUE)); // stays
    return this;
  }

  /**
   * The gateway answers 504 when a synchronous command runs longer than this (default 30 s); zero
   * answers every command so.
   */
  public FakeAgentRunServer gatewayTimeout(Duration timeout) {
    this.gatewayTimeout = timeout;
    return this;
  }

  /**
   * Client-chosen sandbox ids must match this (the real format is undocumented); others get 400.
   */
  public FakeAgentRunServer sandboxIdFormat(String regex) {
    this.sandboxIdFormat = Pattern.compile(regex);
    return this;
  }

  /** How CreateSandbox answers an id that exists already (the real answer is undocumented). */
  public FakeAgentRunServer duplicateIdAnswer(int status, String code, String message) {
    this.duplicateIdAnswer = error(status, code, message);
    return this;
  }

  /**
   * CreateTemplate refuses networkMode PRIVATE without a VPC (a possibility no source rules out).
   */
  public FakeAgentRunServer privateNetworkNeedsVpc(boolean needsVpc) {
    this.privateNeedsVpc = needsVpc;
    return this;
  }

  /**
   * The next {@code times} calls of an operation get the load balancer's HTML page with this status
   * (502, 503).
   */
  public FakeAgentRunServer gatewayErrorNext(String operation, int times, int status) {
    gatewayErrors.put(operation + "#" + status, new AtomicInteger(times));
    return this;
  }

  /** A created template answers CREATING to this many GetTemplate calls before READY. */
  public FakeAgentRunServer templatePollsUntilReady(int polls) {
    this.templatePollsUntilReady = polls;
    return this;
  }

  /** New sandboxes answer CREATING to this many GetSandbox calls, then READY. */
  public FakeAgentRunServer sandboxPollsUntilReady(int polls) {
    this.sandboxPollsUntilReady = polls;
    return this;
  }

  /** New sandboxes fail this many health checks before {"status":"ok"}. */
  public FakeAgentRunServer healthChecksUntilOk(int checks) {
    this.healthChecksUntilOk = checks;
    return this;
  }

  /**
   * Whether the command answer is wrapped in the code/data envelope (both shapes are documented).
   */
  public FakeAgentRunServer wrapCommandResult(boolean wrap) {
    this.wrapCommandResult = wrap;
    return this;
  }

  /**
   * At most this many live sandboxes; CreateSandbox beyond it answers 429 with x-acs-retry-after.
   */
  public FakeAgentRunServer maxSandboxes(int max, long retryAfterMillis) {
    this.maxSandboxes = max;
    this.quotaRetryAfterMillis = retryAfterMillis;
    return this;
  }

  /** The next {@code times} calls of an operation (CreateSandbox, RunCommand, …) fail like this. */
  public FakeAgentRunServer failNext(
      String operation, int times, int status, String code, String message) {
    faults
        .computeIfAbsent(operation, k -> new CopyOnWriteArrayList<>())
        .add(new Fault(status, code, message, null, new AtomicInteger(times)));
    return this;
  }

  /**
   * The next {@code times} calls of an operation are throttled: 429 with x-acs-retry-after in ms.
   */
  public FakeAgentRunServer throttleNext(String operation, int times, long retryAfterMillis) {
    faults
        .computeIfAbsent(operation, k -> new CopyOnWriteArrayList<>())
        .add(
            new Fault(
                429,
                "Throttling.User",
                "Request was denied due to user flow control.",
                retryAfterMillis,
                new AtomicInteger(times)));
    return this;
  }

  /**
   * Every call of an operation is carried out at once but answered only after this delay
   * (Duration.ZERO removes it).
   */
  public FakeAgentRunServer delay(String operation, Duration delay) {
    delays.put(operation, delay);
    return this;
  }

  /** The next command's sandbox disappears while the command runs (as if AgentRun reclaimed it). */
  public FakeAgentRunServer vanishDuringNextCommand() {
    vanishOnCommand.incrementAndGet();
    return this;
  }

  // ---- observations ----

  /** Live sandboxes (created and not deleted). */
  public Set<String> liveSandboxes() {
    return Set.copyOf(sandboxes.keySet());
  }

  public Set<String> createdSandboxes() {
    return Set.copyOf(createdIds);
  }

  public Set<String> deletedSandboxes() {
    return Set.copyOf(deletedIds);
  }

  public int sandboxIdleTimeout(String id) {
    Sandbox sandbox = sandboxes.get(id);
    return sandbox == null ? -1 : sandbox.idleTimeoutSeconds;
  }

  public List<Recorded> requests() {
    return List.copyOf(requests);
  }

  public long count(String action) {
    return requests.stream().filter(r -> action.equals(r.action())).count();
  }

  /** The largest answer body of an operation so far, in bytes. */
  public long largestAnswerBytes(String action) {
    return largestAnswers.getOrDefault(action, 0L);
  }

  public int maxConcurrentCommands() {
    return maxConcurrentCommands.get();
  }

  public int signatureRejections() {
    return signatureRejections.get();
  }

  public boolean templateExists(String name) {
    return templates.containsKey(name);
  }

  /** The networkMode a template was created with, or null. */
  public String templateNetworkMode(String name) {
    Template template = templates.get(name);
    return template == null ? null : template.networkMode;
  }

  /** Whether a file exists in a live sandbox (path as the sandbox sees it). */
  public boolean fileExists(String sandboxId, String absolutePath) {
    Sandbox sandbox = sandboxes.get(sandboxId);
    Path path = sandbox == null ? null : inSandbox(sandbox, absolutePath);
    return path != null && Files.exists(path);
  }

  /** Creates a sandbox behind the operator's back (a leftover of an earlier process). */
  public void addLeftover(String id, String template, Instant createdAt) {
    sandboxes.put(id, new Sandbox(id, template, 300, sandboxDir(id), createdAt, 0, 0));
    createdIds.add(id);
  }

  @Override
  public void close() {
    control.stop(0);
    data.stop(0);
    for (Sandbox sandbox : sandboxes.values()) {
      sandbox.processes.forEach(FakeAgentRunServer::kill);
    }
    executor.shutdownNow();
    try (Stream<Path> files = Files.walk(workRoot)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException ignored) {
      // best effort
    }
  }

  // ---- HTTP ----

  private void handle(HttpExchange exchange, String plane) {
    try (exchange) {
      byte[] body = exchange.getRequestBody().readAllBytes();
      String method = exchange.getRequestMethod();
      String path = exchange.getRequestURI().getRawPath();
      String action =
          "control".equals(plane) ? controlAction(method, path) : dataAction(method, path);
      requests.add(
          new Recorded(
              plane,
              method,
              path,
              action,
              new String(body, StandardCharsets.UTF_8),
              System.nanoTime()));
      Response response =
          "control".equals(plane)
              ? control(exchange, method, path, action, body)
              : data(exchange, method, path, action, body);
      // The service did the work; only its answer is late (a client that gave up never sees it),
      // as when an answer is lost on the way back.
      Duration delay = action == null ? null : delays.get(action);
      if (delay != null && !delay.isZero()) {
        Thread.sleep(delay.toMillis());
      }
      long size = send(exchange, response);
      if (action != null) {
        largestAnswers.merge(action, size, Math::max);
      }
    } catch (IOException e) {
      // the client went away (aborted call): nothing to answer
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException e) {
      try {
        send(exchange, error(500, "InternalError", "fake failed: " + e));
      } catch (IOException ignored) {
        // gone
      }
    }
  }

  private record Response(int status, JsonNode body, Map<String, String> headers, String html) {
    Response(int status, JsonNode body, Map<String, String> headers) {
      this(status, body, headers, null);
    }
  }

  private long send(HttpExchange exchange, Response response) throws IOException {
    String requestId = "fake-" + requestIds.incrementAndGet();
    if (response.body() instanceof ObjectNode object
        && (object.has("code") || object.has("Code"))) {
      object = object.deepCopy();
      object.put(object.has("Code") ? "RequestId" : "requestId", requestId);
      response = new Response(response.status(), object, response.headers(), response.html());
    }
    byte[] bytes =
        response.html() != null
            ? response.html().getBytes(StandardCharsets.UTF_8)
            : JSON.writeValueAsBytes(response.body());
    exchange
        .getResponseHeaders()
        .set("Content-Type", response.html() != null ? "text/html" : "application/json");
    exchange.getResponseHeaders().set("x-acs-request-id", requestId);
    response.headers().forEach((k, v) -> exchange.getResponseHeaders().set(k, v));
    exchange.sendResponseHeaders(response.status(), bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
    return bytes.length;
  }

  private static Response ok(JsonNode data) {
    ObjectNode body = JSON.createObjectNode();
    body.put("code", "SUCCESS");
    body.set("data", data);
    return new Response(200, body, Map.of());
  }

  /** A service error, camelCase like AgentRun's own. */
  private static Response error(int status, String code, String message) {
    ObjectNode body = JSON.createObjectNode();
    body.put("code", code);
    body.put("message", message);
    return new Response(status, body, Map.of());
  }

  /** A gateway error (signature, unknown key), PascalCase like the POP gateway's. */
  private static Response gatewayError(int status, String code, String message) {
    ObjectNode body = JSON.createObjectNode();
    body.put("Code", code);
    body.put("Message", message);
    body.put("HostId", "agentrun.fake");
    body.put("Recommend", "https://api.aliyun.com/troubleshoot");
    return new Response(status, body, Map.of());
  }

  private Response injected(String action) {
    if (action != null) {
      for (Map.Entry<String, AtomicInteger> gateway : gatewayErrors.entrySet()) {
        if (gateway.getKey().startsWith(action + "#")
            && gateway.getValue().getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
          int status = Integer.parseInt(gateway.getKey().substring(action.length() + 1));
          String title =
              status
                  + (status == 502
                      ? " Bad Gateway"
                      : status == 503 ? " Service Unavailable" : " Error");
          return new Response(
              status,
              null,
              Map.of(),
              "<html><head><title>"
                  + title
                  + "</title></head><body><center><h1>"
                  + title
                  + "</h1></center></body></html>");
        }
      }
    }
    List<Fault> list = action == null ? null : faults.get(action);
    if (list == null) {
      return null;
    }
    for (Fault fault : list) {
      if (fault.remaining().getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
        Response response = error(fault.status(), fault.code(), fault.message());
        if (fault.retryAfterMillis() != null) {
          return new Response(
              response.status(),
              response.body(),
              Map.of("x-acs-retry-after", String.valueOf(fault.retryAfterMillis())));
        }
        return response;
      }
    }
    return null;
  }

  // ---- control plane ----

  private static final Pattern TEMPLATE = Pattern.compile("^/" + VERSION + "/templates/([^/]+)$");
  private static final Pattern SANDBOX = Pattern.compile("^/" + VERSION + "/sandboxes/([^/]+)$");
  private static final Pattern SANDBOX_STOP =
      Pattern.compile("^/" + VERSION + "/sandboxes/([^/]+)/stop$");

  private static String controlAction(String method, String path) {
    String templates = "/" + VERSION + "/templates";
    String sandboxes = "/" + VERSION + "/sandboxes";
    if (path.equals(templates)) {
      return method.equals("GET")
          ? "ListTemplates"
          : method.equals("POST") ? "CreateTemplate" : null;
    }
    if (TEMPLATE.matcher(path).matches()) {
      return switch (method) {
        case "GET" -> "GetTemplate";
        case "PUT" -> "UpdateTemplate";
        case "DELETE" -> "DeleteTemplate";
        default -> null;
      };
    }
    if (path.equals(sandboxes)) {
      return method.equals("GET")
          ? "ListSandboxes"
          : method.equals("POST") ? "CreateSandbox" : null;
    }
    if (SANDBOX_STOP.matcher(path).matches()) {
      return method.equals("POST") ? "StopSandbox" : null;
    }
    if (SANDBOX.matcher(path).matches()) {
      return method.equals("GET") ? "GetSandbox" : method.equals("DELETE") ? "DeleteSandbox" : null;
    }
    return null;
  }

  private Response control(
      HttpExchange exchange, String method, String path, String action, byte[] body) {
    Response denied = checkAcs3(exchange, method, action, body);
    if (denied != null) {
      return denied;
    }
    if (action == null) {
      return error(404, "InvalidAction.NotFound", "no such operation: " + method + " " + path);
    }
    Response fault = injected(action);
    if (fault != null) {
      return fault;
    }
    JsonNode json = parse(body);
    return switch (action) {
      case "ListTemplates" -> listTemplates(exchange);
      case "CreateTemplate" -> createTemplate(json);
      case "GetTemplate" -> getTemplate(group(TEMPLATE, path));
      case "CreateSandbox" -> createSandbox(json);
      case "GetSandbox" -> getSandbox(group(SANDBOX, path));
      case "DeleteSandbox" -> deleteSandbox(group(SANDBOX, path), false);
      case "StopSandbox" -> stopSandbox(group(SANDBOX_STOP, path), false);
      case "ListSandboxes" -> listSandboxes(exchange);
      default -> error(400, "UnsupportedOperation", action + " is not faked");
    };
  }

  /**
   * Checks the ACS3-HMAC-SHA256 signature and the V3 headers; answers like the gateway on failure.
   */
  private Response checkAcs3(HttpExchange exchange, String method, String action, byte[] body) {
    Map<String, List<String>> headers = exchange.getRequestHeaders();
    String authorization = AgentRunSignatures.headerValue(headers, "authorization");
    if (authorization == null || !authorization.startsWith("ACS3-HMAC-SHA256 ")) {
      return reject(
          gatewayError(
              400,
              "IncompleteSignature",
              "The request signature does not conform to Aliyun standards."));
    }
    Matcher parts =
        Pattern.compile("Credential=([^,]+),SignedHeaders=([^,]+),Signature=([0-9a-f]+)")
            .matcher(authorization.substring("ACS3-HMAC-SHA256 ".length()).replace(" ", ""));
    if (!parts.matches()) {
      return reject(
          gatewayError(400, "IncompleteSignature", "The Authorization header is malformed."));
    }
    if (!ACCESS_KEY_ID.equals(parts.group(1))) {
      return reject(
          gatewayError(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."));
    }
    if (!VERSION.equals(AgentRunSignatures.headerValue(headers, "x-acs-version"))) {
      return gatewayError(400, "InvalidVersion", "Specified parameter Version is not valid.");
    }
    if (action != null && !action.equals(AgentRunSignatures.headerValue(headers, "x-acs-action"))) {
      return gatewayError(400, "InvalidAction", "x-acs-action does not match the request path.");
    }
    Response dateProblem = checkDate(AgentRunSignatures.headerValue(headers, "x-acs-date"));
    if (dateProblem != null) {
      return dateProblem;
    }
    String nonce = AgentRunSignatures.headerValue(headers, "x-acs-signature-nonce");
    if (nonce == null || !nonces.add(nonce)) {
      return gatewayError(400, "SignatureNonceUsed", "Specified signature nonce was used already.");
    }
    String payloadHash = AgentRunSignatures.headerValue(headers, "x-acs-content-sha256");
    if (!AgentRunSignatures.sha256Hex(body).equals(payloadHash)) {
      return reject(
          gatewayError(
              400,
              "ContentSHA256NotMatched",
              "x-acs-content-sha256 is not the SHA-256 of the body."));
    }
    String signedHeaders = parts.group(2);
    List<String> signed = List.of(signedHeaders.split(";"));
    for (String required :
        List.of(
            "host",
            "x-acs-action",
            "x-acs-content-sha256",
            "x-acs-date",
            "x-acs-signature-nonce",
            "x-acs-version")) {
      if (!signed.contains(required)) {
        return reject(
            gatewayError(400, "IncompleteSignature", "Header " + required + " must be signed."));
      }
    }
    String expected =
        AgentRunSignatures.acs3(
            method,
            exchange.getRequestURI().getRawPath(),
            exchange.getRequestURI().getRawQuery(),
            headers,
            signedHeaders,
            payloadHash,
            ACCESS_KEY_SECRET);
    if (!expected.equals(parts.group(3))) {
      return reject(
          gatewayError(
              400, "SignatureDoesNotMatch", "Specified signature does not match our calculation."));
    }
    return null;
  }

  private Response reject(Response response) {
    signatureRejections.incrementAndGet();
    return response;
  }

  private static Response checkDate(String date) {
    try {
      Instant sent = Instant.parse(date);
      if (Duration.between(sent, Instant.now()).abs().compareTo(CLOCK_SKEW) > 0) {
        return gatewayError(
            400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.");
      }
      return null;
    } catch (RuntimeException e) {
      return gatewayError(
          400,
          "InvalidTimeStamp.Format",
          "Specified time stamp or date value is not well formatted.");
    }
  }

  private Response listTemplates(HttpExchange exchange) {
    Map<String, String> query = query(exchange.getRequestURI().getRawQuery());
    int size = Integer.parseInt(query.getOrDefault("pageSize", "20"));
    int number = Integer.parseInt(query.getOrDefault("pageNumber", "1"));
    List<Template> all =
        templates.values().stream().sorted(Comparator.comparing(t -> t.name)).toList();
    ArrayNode items = JSON.createArrayNode();
    all.stream().skip((long) (number - 1) * size).limit(size).forEach(t -> items.add(template(t)));
    ObjectNode page = JSON.createObjectNode();
    page.set("items", items);
    page.put("pageNumber", number);
    page.put("pageSize", size);
    page.put("total", all.size());
    return ok(page);
  }

  private Response createTemplate(JsonNode body) {
    for (String field :
        List.of("templateName", "templateType", "cpu", "memory", "networkConfiguration")) {
      if (body == null || !body.hasNonNull(field)) {
        return error(400, "MissingParameter", field + " is required");
      }
    }
    String name = body.get("templateName").asText();
    String networkMode = body.path("networkConfiguration").path("networkMode").asText("PUBLIC");
    if (privateNeedsVpc
        && networkMode.equals("PRIVATE")
        && !body.path("networkConfiguration").hasNonNull("vpcId")) {
      return error(
          400,
          "InvalidParameter",
          "networkConfiguration.vpcId is required when networkMode is PRIVATE");
    }
    Template template =
        new Template(
            name,
            body.get("templateType").asText(),
            networkMode,
            templatePollsUntilReady > 0 ? "CREATING" : "READY",
            templatePollsUntilReady);
    if (templates.putIfAbsent(name, template) != null) {
      return error(409, "TemplateAlreadyExists", "template " + name + " already exists");
    }
    return ok(template(template));
  }

  private Response getTemplate(String name) {
    Template template = templates.get(name);
    if (template == null) {
      return error(404, "TemplateNotFound", "template " + name + " does not exist");
    }
    if ("CREATING".equals(template.status) && template.pollsUntilReady.decrementAndGet() <= 0) {
      template.status = "READY";
    }
    return ok(template(template));
  }

  private static JsonNode template(Template template) {
    ObjectNode node = JSON.createObjectNode();
    node.put("templateId", "tpl-" + Integer.toHexString(template.name.hashCode()));
    node.put("templateName", template.name);
    node.put("templateType", template.type);
    node.put("status", template.status);
    node.put("sandboxIdleTimeoutInSeconds", "1800"); // strings on output, as documented
    node.putObject("networkConfiguration").put("networkMode", template.networkMode);
    return node;
  }

  private Response createSandbox(JsonNode body) {
    if (body == null || !body.hasNonNull("templateName")) {
      return error(400, "MissingParameter", "templateName is required");
    }
    String name = body.get("templateName").asText();
    Template template = templates.get(name);
    if (template == null) {
      return error(404, "TemplateNotFound", "template " + name + " does not exist");
    }
    if (!"READY".equals(template.status)) {
      return error(400, "TemplateNotReady", "template " + name + " is " + template.status);
    }
    String id =
        body.hasNonNull("sandboxId")
            ? body.get("sandboxId").asText()
            : "01" + Long.toHexString(System.nanoTime());
    if (body.hasNonNull("sandboxId") && !sandboxIdFormat.matcher(id).matches()) {
      return error(400, "InvalidParameter", "The parameter sandboxId is invalid");
    }
    synchronized (sandboxes) {
      if (sandboxes.containsKey(id) || deletedIds.contains(id)) {
        return duplicateIdAnswer;
      }
      if (sandboxes.size() >= maxSandboxes) {
        Response quota =
            error(
                429,
                "SandboxQuotaExceeded",
                "the number of sandboxes exceeds the account quota of " + maxSandboxes);
        return new Response(
            quota.status(),
            quota.body(),
            Map.of("x-acs-retry-after", String.valueOf(quotaRetryAfterMillis)));
      }
      int idle =
          body.hasNonNull("sandboxIdleTimeoutSeconds")
              ? body.get("sandboxIdleTimeoutSeconds").asInt()
              : 1800;
      Sandbox sandbox =
          new Sandbox(
              id,
              name,
              idle,
              sandboxDir(id),
              Instant.now(),
              sandboxPollsUntilReady,
              healthChecksUntilOk);
      sandboxes.put(id, sandbox);
      createdIds.add(id);
      return ok(sandbox(sandbox));
    }
  }

  private Response getSandbox(String id) {
    Sandbox sandbox = sandboxes.get(id);
    if (sandbox == null) {
      return error(404, "SandboxNotFound", "sandbox " + id + " not found");
    }
    if ("CREATING".equals(sandbox.status) && sandbox.pollsUntilReady.decrementAndGet() <= 0) {
      sandbox.status = "READY";
    }
    return ok(sandbox(sandbox));
  }

  private Response deleteSandbox(String id, boolean dataPlane) {
    Sandbox sandbox = sandboxes.remove(id);
    if (sandbox == null) {
      return notFound(id, dataPlane);
    }
    terminate(sandbox);
    return ok(sandbox(sandbox));
  }

  /**
   * An unknown sandbox. The data plane answers deletes with HTTP 200 and a non-SUCCESS code saying
   * "sandbox not found" (PY-SDK sandbox/client.py delete_sandbox); other calls with 404.
   */
  private static Response notFound(String id, boolean businessLevel) {
    return businessLevel
        ? error(200, "FAILED", "sandbox not found")
        : error(404, "SandboxNotFound", "sandbox " + id + " not found");
  }

  /** Gone from the data plane; listed as TERMINATED from now on. */
  private void terminate(Sandbox sandbox) {
    destroy(sandbox);
    deletedIds.add(sandbox.id);
    terminated.put(sandbox.id, sandbox);
  }

  private Response stopSandbox(String id, boolean dataPlane) {
    Sandbox sandbox = sandboxes.get(id);
    if (sandbox == null) {
      return notFound(id, dataPlane);
    }
    sandbox.processes.forEach(FakeAgentRunServer::kill);
    sandbox.status = "TERMINATED";
    return ok(sandbox(sandbox));
  }

  private Response listSandboxes(HttpExchange exchange) {
    Map<String, String> query = query(exchange.getRequestURI().getRawQuery());
    int max = Integer.parseInt(query.getOrDefault("maxResults", "10"));
    int start = Integer.parseInt(query.getOrDefault("nextToken", "0"));
    String template = query.get("templateName");
    List<Sandbox> all =
        Stream.concat(sandboxes.values().stream(), terminated.values().stream())
            .filter(s -> template == null || template.equals(s.template))
            .sorted(Comparator.comparing(s -> s.id))
            .toList();
    ArrayNode items = JSON.createArrayNode();
    all.stream().skip(start).limit(max).forEach(s -> items.add(sandbox(s)));
    ObjectNode page = JSON.createObjectNode();
    page.set("items", items);
    if (start + max < all.size()) {
      page.put("nextToken", String.valueOf(start + max));
    }
    return ok(page);
  }

  private static JsonNode sandbox(Sandbox sandbox) {
    ObjectNode node = JSON.createObjectNode();
    node.put("sandboxId", sandbox.id);
    node.put("templateName", sandbox.template);
    node.put("status", sandbox.status);
    node.put("sandboxIdleTimeoutSeconds", sandbox.idleTimeoutSeconds);
    node.put("createdAt", sandbox.createdAt.toString());
    return node;
  }

  // ---- data plane ----

  private static final Pattern HEALTH = Pattern.compile("^/sandboxes/([^/]+)/health$");
  private static final Pattern FILES = Pattern.compile("^/sandboxes/([^/]+)/files$");
  private static final Pattern COMMAND = Pattern.compile("^/sandboxes/([^/]+)/processes/cmd$");
  private static final Pattern DATA_SANDBOX = Pattern.compile("^/sandboxes/([^/]+)$");
  private static final Pattern DATA_STOP = Pattern.compile("^/sandboxes/([^/]+)/stop$");

  private static String dataAction(String method, String path) {
    // The sandbox lifecycle as the official SDK calls it (sandbox/api/sandbox_data.py).
    if (path.equals("/sandboxes") && method.equals("POST")) {
      return "CreateSandbox";
    }
    if (DATA_SANDBOX.matcher(path).matches()) {
      return method.equals("GET") ? "GetSandbox" : method.equals("DELETE") ? "DeleteSandbox" : null;
    }
    if (DATA_STOP.matcher(path).matches() && method.equals("POST")) {
      return "StopSandbox";
    }
    if (HEALTH.matcher(path).matches() && method.equals("GET")) {
      return "SandboxHealth";
    }
    if (FILES.matcher(path).matches() && method.equals("POST")) {
      return "WriteFile";
    }
    if (COMMAND.matcher(path).matches() && method.equals("POST")) {
      return "RunCommand";
    }
    return null;
  }

  private Response data(
      HttpExchange exchange, String method, String path, String action, byte[] body)
      throws InterruptedException {
    if (path.startsWith("/" + VERSION + "/")) {
      return error(400, "ERR_BAD_REQUEST", "Invalid request uri");
    }
    Response denied = checkAgentRun4(exchange, method, body);
    if (denied != null) {
      return denied;
    }
    if (action == null) {
      return error(404, "NotFound", "no such data-plane route: " + method + " " + path);
    }
    Response fault = injected(action);
    if (fault != null) {
      return fault;
    }
    switch (action) {
      case "CreateSandbox":
        return createSandbox(parse(body));
      case "GetSandbox":
        {
          String id = group(DATA_SANDBOX, path);
          return sandboxes.containsKey(id) ? getSandbox(id) : notFound(id, false);
        }
      case "DeleteSandbox":
        return deleteSandbox(group(DATA_SANDBOX, path), true);
      case "StopSandbox":
        return stopSandbox(group(DATA_STOP, path), true);
      default:
        break;
    }
    Pattern pattern =
        switch (action) {
          case "SandboxHealth" -> HEALTH;
          case "WriteFile" -> FILES;
          default -> COMMAND;
        };
    Sandbox sandbox = sandboxes.get(group(pattern, path));
    if (sandbox == null) {
      return error(404, "SandboxNotFound", "sandbox " + group(pattern, path) + " not found");
    }
    JsonNode json = parse(body);
    return switch (action) {
      case "SandboxHealth" -> health(sandbox);
      case "WriteFile" -> writeFile(sandbox, json);
      default -> runCommand(sandbox, json);
    };
  }

  /** Checks Agentrun-Authorization (AGENTRUN4-HMAC-SHA256). */
  private Response checkAgentRun4(HttpExchange exchange, String method, byte[] body) {
    Map<String, List<String>> headers = exchange.getRequestHeaders();
    String authorization = AgentRunSignatures.headerValue(headers, "agentrun-authorization");
    if (authorization == null || !authorization.startsWith("AGENTRUN4-HMAC-SHA256 ")) {
      return reject(error(401, "Unauthorized", "missing Agentrun-Authorization"));
    }
    Matcher parts =
        Pattern.compile(
                "Credential=([^/]+)/(\\d{8})/([^/]+)/agentrun/aliyun_v4_request,SignedHeaders=([^,]+),Signature=([0-9a-f]+)")
            .matcher(authorization.substring("AGENTRUN4-HMAC-SHA256 ".length()).replace(" ", ""));
    if (!parts.matches()) {
      return reject(error(401, "Unauthorized", "malformed Agentrun-Authorization"));
    }
    if (!ACCESS_KEY_ID.equals(parts.group(1))) {
      return reject(error(403, "InvalidAccessKeyId.NotFound", "the access key does not exist"));
    }
    if (!REGION.equals(parts.group(3))) {
      return reject(
          error(403, "SignatureDoesNotMatch", "the credential scope names another region"));
    }
    String date = AgentRunSignatures.headerValue(headers, "x-acs-date");
    Response dateProblem = checkDate(date);
    if (dateProblem != null) {
      return dateProblem;
    }
    if (!parts.group(2).equals(date.substring(0, 10).replace("-", ""))) {
      return reject(
          error(403, "SignatureDoesNotMatch", "the credential scope date is not x-acs-date's day"));
    }
    String payload = AgentRunSignatures.headerValue(headers, "x-acs-content-sha256");
    if (!"UNSIGNED-PAYLOAD".equals(payload)
        && !AgentRunSignatures.sha256Hex(body).equals(payload)) {
      return reject(
          error(403, "SignatureDoesNotMatch", "x-acs-content-sha256 does not match the body"));
    }
    String signedHeaders = parts.group(4);
    if (!List.of(signedHeaders.split(";"))
        .containsAll(List.of("host", "x-acs-date", "x-acs-content-sha256"))) {
      return reject(
          error(
              403,
              "SignatureDoesNotMatch",
              "host, x-acs-date and x-acs-content-sha256 must be signed"));
    }
    String expected =
        AgentRunSignatures.agentRun4(
            method,
            exchange.getRequestURI().getRawPath(),
            exchange.getRequestURI().getRawQuery(),
            headers,
            signedHeaders,
            payload,
            ACCESS_KEY_SECRET,
            parts.group(2),
            parts.group(3));
    if (!expected.equals(parts.group(5))) {
      return reject(error(403, "SignatureDoesNotMatch", "the request signature does not match"));
    }
    return null;
  }

  private Response health(Sandbox sandbox) {
    ObjectNode body = JSON.createObjectNode();
    boolean ok =
        "READY".equals(sandbox.status) && sandbox.healthChecksUntilOk.getAndDecrement() <= 0;
    body.put("status", ok ? "ok" : "starting");
    return new Response(200, body, Map.of());
  }

  private Response writeFile(Sandbox sandbox, JsonNode body) {
    if (body == null || !body.hasNonNull("path") || !body.has("content")) {
      return error(400, "ERR_BAD_REQUEST", "path and content are required");
    }
    Path target = inSandbox(sandbox, body.get("path").asText());
    if (target == null) {
      return error(400, "ERR_BAD_REQUEST", "path escapes the sandbox");
    }
    try {
      if (body.path("createDir").asBoolean(false)) {
        Files.createDirectories(target.getParent());
      }
      Files.writeString(target, body.get("content").asText(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      return error(500, "InternalError", "write failed: " + e.getMessage());
    }
    ObjectNode result = JSON.createObjectNode();
    result.put("path", body.get("path").asText());
    result.put("size", body.get("content").asText().getBytes(StandardCharsets.UTF_8).length);
    return new Response(200, result, Map.of());
  }

  /**
   * Runs the command for real: sh -c in the sandbox's directory, capped at 30 s like the service.
   */
  private Response runCommand(Sandbox sandbox, JsonNode body) throws InterruptedException {
    if (body == null || !body.hasNonNull("command")) {
      return error(400, "ERR_BAD_REQUEST", "command is required");
    }
    String cwdText = body.hasNonNull("cwd") ? body.get("cwd").asText() : "/home/user";
    Path cwd = inSandbox(sandbox, cwdText);
    if (cwd == null || !Files.isDirectory(cwd)) {
      return error(400, "ERR_BAD_REQUEST", "cwd " + cwdText + " does not exist");
    }
    int running = concurrentCommands.incrementAndGet();
    maxConcurrentCommands.accumulateAndGet(running, Math::max);
    long started = System.nanoTime();
    Process process;
    try {
      ProcessBuilder builder =
          LocalInterpreters.applyTo(new ProcessBuilder("sh", "-c", body.get("command").asText()))
              .directory(cwd.toFile());
      builder.environment().put("HOME", sandbox.root.toString());
      // A sandbox's own PATH: the image's interpreters, not this machine's version-manager shims
      // (pyenv's take seconds each to start under load).
      builder.environment().put("PATH", "/usr/bin:/bin");
      process = builder.start();
    } catch (IOException e) {
      concurrentCommands.decrementAndGet();
      return error(500, "InternalError", "cannot start the command: " + e.getMessage());
    }
    sandbox.processes.add(process);
    boolean stillRunning = false;
    try {
      try {
        process.getOutputStream().close(); // the service gives commands no stdin
      } catch (IOException ignored) {
        // already gone
      }
      ByteArrayOutputStream stdout = new ByteArrayOutputStream();
      ByteArrayOutputStream stderr = new ByteArrayOutputStream();
      Thread out = pump(process.getInputStream(), stdout);
      Thread err = pump(process.getErrorStream(), stderr);
      if (vanishOnCommand.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
        Thread.sleep(300);
        if (sandboxes.remove(sandbox.id) != null) {
          terminate(sandbox);
        }
        return error(404, "SandboxNotFound", "sandbox " + sandbox.id + " not found");
      }
      // The gateway gives up on a synchronous call at 30 s; the command itself goes on in the
      // sandbox (until the sandbox is deleted). Whether the body's timeout stops it sooner is
      // not documented, so it is recorded and ignored.
      // Zero: the gateway gives up before any command can end, however fast the machine.
      boolean exited =
          !gatewayTimeout.isZero()
              && process.waitFor(gatewayTimeout.toMillis(), TimeUnit.MILLISECONDS);
      if (!exited) {
        stillRunning = true; // deleting the sandbox kills it
        return error(504, "GatewayTimeout", "upstream request timeout");
      }
      out.join(5000);
      err.join(5000);
      if (!sandboxes.containsKey(sandbox.id)) {
        return error(404, "SandboxNotFound", "sandbox " + sandbox.id + " not found");
      }
      ObjectNode result = JSON.createObjectNode();
      result.put("exitCode", process.exitValue());
      result.put("stdout", stdout.toString(StandardCharsets.UTF_8));
      result.put("stderr", stderr.toString(StandardCharsets.UTF_8));
      result.put("executionTimeMs", (System.nanoTime() - started) / 1_000_000);
      ObjectNode answer = JSON.createObjectNode();
      answer.put("executionId", "exec-" + requestIds.incrementAndGet());
      answer.put("status", "completed");
      answer.set("result", result);
      return wrapCommandResult ? ok(answer) : new Response(200, answer, Map.of());
    } finally {
      if (!stillRunning) {
        sandbox.processes.remove(process);
      }
      concurrentCommands.decrementAndGet();
    }
  }

  private Path sandboxDir(String id) {
    try {
      return Files.createDirectories(workRoot.resolve(id));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static Path inSandbox(Sandbox sandbox, String absolute) {
    Path target = sandbox.root.resolve(absolute.replaceFirst("^/+", "")).normalize();
    return target.startsWith(sandbox.root) ? target : null;
  }

  private static void destroy(Sandbox sandbox) {
    sandbox.processes.forEach(FakeAgentRunServer::kill);
    sandbox.status = "TERMINATED";
    try (Stream<Path> files = Files.walk(sandbox.root)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException ignored) {
      // best effort
    }
  }

  private static void kill(Process process) {
    process.descendants().forEach(ProcessHandle::destroyForcibly);
    process.destroyForcibly();
  }

  private static Thread pump(InputStream in, ByteArrayOutputStream sink) {
    Thread thread =
        new Thread(
            () -> {
              try {
                in.transferTo(sink);
              } catch (IOException ignored) {
                // killed
              }
            });
    thread.setDaemon(true);
    thread.start();
    return thread;
  }

  private static String group(Pattern pattern, String path) {
    Matcher matcher = pattern.matcher(path);
    return matcher.matches() ? matcher.group(1) : null;
  }

  private static JsonNode parse(byte[] body) {
    if (body.length == 0) {
      return null;
    }
    try {
      return JSON.readTree(body);
    } catch (IOException e) {
      return null;
    }
  }

  private static Map<String, String> query(String raw) {
    Map<String, String> values = new ConcurrentHashMap<>();
    if (raw == null || raw.isEmpty()) {
      return values;
    }
    for (String pair : raw.split("&")) {
      int eq = pair.indexOf('=');
      values.put(
          java.net.URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8),
          eq < 0 ? "" : java.net.URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
    }
    return values;
  }

  /** Lists that tests print when an assertion fails. */
  public List<String> describeRequests() {
    List<String> lines = new ArrayList<>();
    for (Recorded r : requests) {
      lines.add(r.plane() + " " + r.method() + " " + r.path() + " " + r.action());
    }
    return lines;
  }
}
