package dev.sandboxes.operator.runner;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sandboxes.api.v1alpha1.ExecutionMode;
import dev.sandboxes.api.v1alpha1.Language;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.List;

/**
 * The small programs every sandbox runs (one per language) and the one-line JSON envelope they read
 * on stdin. The envelope carries code and arguments as data; nothing is pasted into source.
 */
public final class RunnerProgram {

  /** Protocol version, in the envelope and in docs/runner-protocol.md. */
  public static final int PROTOCOL_VERSION = 1;

  /**
   * Exit code of a runner that could not read its envelope: the operator's fault, not the user's.
   */
  public static final int ENVELOPE_ERROR_EXIT_CODE = 70;

  /**
   * Exit code of a runner that refused its envelope because the sandbox already received one (the
   * once-only marker existed): the code did not run.
   */
  public static final int ALREADY_USED_EXIT_CODE = 73;

  /**
   * Where pool sandboxes keep the once-only marker: the sandbox's own {@code /tmp} (a per-pod
   * emptyDir, a per-container tmpfs), never shared with another sandbox. See
   * docs/runner-protocol.md.
   */
  public static final String ONCE_MARKER = "/tmp/.sandbox-runner-envelope-received";

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final String PYTHON_SOURCE = load("python_runner.py");
  private static final String NODE_SOURCE = load("node_runner.js");

  private RunnerProgram() {}

  /** The argv that starts the runner for a language inside a sandbox. */
  public static List<String> command(Language language) {
    return switch (language) {
      // -X utf8: text I/O is UTF-8 whatever the image's locale.
      case PYTHON -> List.of("python3", "-X", "utf8", "-c", PYTHON_SOURCE);
      case JAVASCRIPT -> List.of("node", "-e", NODE_SOURCE);
    };
  }

  /**
   * The argv that starts the runner with the once-only guard: before it reads its envelope, the
   * runner creates {@code onceMarker} exclusively, and exits {@link #ALREADY_USED_EXIT_CODE}
   * without reading it when the marker exists (another runner in this sandbox got an envelope).
   */
  public static List<String> command(Language language, String onceMarker) {
    List<String> command = new java.util.ArrayList<>(command(language));
    command.add(onceMarker);
    return List.copyOf(command);
  }

  /** The runner's source for a language (for backends that ship it as a file). */
  public static String source(Language language) {
    return language == Language.PYTHON ? PYTHON_SOURCE : NODE_SOURCE;
  }

  /** A fresh random nonce: 32 hex characters that user output cannot guess. */
  public static String newNonce() {
    byte[] bytes = new byte[16];
    RANDOM.nextBytes(bytes);
    return HexFormat.of().formatHex(bytes);
  }

  /** The envelope line, newline-terminated, as UTF-8 bytes; tracebacks may show source lines. */
  public static byte[] envelope(
      String nonce, ExecutionMode mode, String entrypoint, String code, JsonNode arguments) {
    return envelope(nonce, mode, entrypoint, code, arguments, false);
  }

  /**
   * The envelope line, newline-terminated, as UTF-8 bytes.
   *
   * @param hideSource the runner prints no source line of the code (tracebacks, syntax errors): set
   *     for code read from a Secret
   */
  public static byte[] envelope(
      String nonce,
      ExecutionMode mode,
      String entrypoint,
      String code,
      JsonNode arguments,
      boolean hideSource) {
    return envelope(nonce, mode, entrypoint, code, arguments, hideSource, null);
  }

  /**
   * The envelope line, newline-terminated, as UTF-8 bytes.
   *
   * @param artifacts where the runner collects files from and its limits; null: it collects none
   */
  public static byte[] envelope(
      String nonce,
      ExecutionMode mode,
      String entrypoint,
      String code,
      JsonNode arguments,
      boolean hideSource,
      ArtifactLimits artifacts) {
    ObjectNode envelope = JSON.createObjectNode();
    envelope.put("v", PROTOCOL_VERSION);
    envelope.put("nonce", nonce);
    envelope.put("mode", mode.value());
    envelope.put("entrypoint", entrypoint);
    envelope.put("code", code);
    envelope.set("arguments", arguments == null ? JSON.createObjectNode() : arguments);
    if (hideSource) {
      envelope.put("hideSource", true);
    }
    if (artifacts != null) {
      ObjectNode limits = envelope.putObject("artifacts");
      limits.put("dir", artifacts.dir());
      limits.put("maxArtifacts", artifacts.maxArtifacts());
      limits.put("maxArtifactBytes", artifacts.maxArtifactBytes());
    }
    try {
      // Compact JSON escapes every newline inside strings, so the envelope is exactly one line.
      byte[] json = JSON.writeValueAsBytes(envelope);
      byte[] line = new byte[json.length + 1];
      System.arraycopy(json, 0, line, 0, json.length);
      line[json.length] = '\n';
      return line;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String load(String name) {
    try (InputStream in = RunnerProgram.class.getResourceAsStream(name)) {
      if (in == null) {
        throw new IllegalStateException("runner resource missing: " + name);
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
