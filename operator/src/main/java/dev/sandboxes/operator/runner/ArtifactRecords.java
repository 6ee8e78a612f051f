package dev.sandboxes.operator.runner;

import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Assembles the runner's artifact records ({@code a} header, {@code b} base64 bytes, {@code t} what
 * was left out; see docs/runner-protocol.md) into files, keeping no more than the limits: memory
 * stays at most {@code maxArtifactBytes} plus one record.
 */
final class ArtifactRecords {

  private static final int MAX_RECORD = 4096;
  private static final int MAX_OMITTED_JSON = 16 * 1024;
  private static final ObjectMapper JSON =
      JsonMapper.builder()
          .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
          .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
          .build();

  private final ArtifactLimits limits;
  private final List<Artifact> files = new ArrayList<>();
  private final Set<String> names = new HashSet<>();
  private final ByteArrayOutputStream omittedJson = new ByteArrayOutputStream();
  private long totalBytes;
  private String problem;
  private String currentName;
  private long currentSize;
  private ByteArrayOutputStream current;
  private char recordKind;
  private int recordRemaining;
  private ByteArrayOutputStream record;

  ArtifactRecords(ArtifactLimits limits) {
    this.limits = limits;
  }

  static boolean isArtifactKind(char kind) {
    return kind == 'a' || kind == 'b' || kind == 't';
  }

  /** Any record begins: artifact records are buffered whole (at most one frame). */
  void begin(char kind, int length) {
    if (kind == 'a' || kind == 't' || kind == 'd') {
      closeFile();
    }
    if (isArtifactKind(kind)) {
      recordKind = kind;
      recordRemaining = length;
      record = new ByteArrayOutputStream(Math.min(length, MAX_RECORD));
      if (length == 0) {
        complete();
      }
    }
  }

  void append(byte[] bytes, int offset, int length) {
    if (record == null) {
      return;
    }
    record.write(bytes, offset, length);
    recordRemaining -= length;
    if (recordRemaining <= 0) {
      complete();
    }
  }

  private void complete() {
    byte[] payload = record.toByteArray();
    record = null;
    switch (recordKind) {
      case 'a' -> startFile(payload);
      case 'b' -> appendFile(payload);
      default -> {
        if (omittedJson.size() + payload.length <= MAX_OMITTED_JSON) {
          omittedJson.write(payload, 0, payload.length);
        }
      }
    }
  }

  private void startFile(byte[] payload) {
    JsonNode header;
    try {
      header = JSON.readTree(payload);
    } catch (IOException malformed) {
      header = null;
    }
    if (header == null
        || !header.path("name").isTextual()
        || !header.path("size").canConvertToLong()) {
      fail("an artifact header is not {name, size}");
      return;
    }
    String name = header.get("name").asText();
    long size = header.get("size").asLong();
    String bad = nameProblem(name);
    if (bad != null) {
      fail("the artifact name " + abbreviate(name) + " " + bad);
    } else if (!names.add(name)) {
      fail("the artifact " + abbreviate(name) + " arrived twice");
    } else if (size < 0
        || files.size() >= limits.maxArtifacts()
        || totalBytes + size > limits.maxArtifactBytes()) {
      fail("the runner sent more artifacts than maxArtifacts or maxArtifactBytes allow");
    } else {
      currentName = name;
      currentSize = size;
      current = new ByteArrayOutputStream((int) size);
      totalBytes += size;
    }
  }

  private void appendFile(byte[] payload) {
    if (current == null) {
      if (problem == null) {
        fail("artifact bytes arrived without a header");
      }
      return;
    }
    byte[] decoded;
    try {
      decoded = Base64.getDecoder().decode(payload);
    } catch (IllegalArgumentException malformed) {
      fail("the bytes of " + abbreviate(currentName) + " are not base64");
      current = null;
      return;
    }
    if (current.size() + (long) decoded.length > currentSize) {
      fail("the artifact " + abbreviate(currentName) + " is longer than its header says");
      current = null;
      return;
    }
    current.write(decoded, 0, decoded.length);
  }

  private void closeFile() {
    if (current == null) {
      return;
    }
    if (current.size() != currentSize) {
      fail("the artifact " + abbreviate(currentName) + " is shorter than its header says");
    } else {
      files.add(new Artifact(currentName, current.toByteArray()));
    }
    current = null;
  }

  private void fail(String why) {
    if (problem == null) {
      problem = why;
    }
  }

  /** The files and omissions, once the streams have ended. */
  CollectedArtifacts result() {
    closeFile();
    List<CollectedArtifacts.Omitted> omitted = new ArrayList<>();
    int omittedCount = 0;
    boolean truncated = false;
    if (omittedJson.size() > 0) {
      try {
        JsonNode summary = JSON.readTree(omittedJson.toByteArray());
        for (JsonNode entry : summary.path("omitted")) {
          JsonNode size = entry.get("sizeBytes");
          omitted.add(
              new CollectedArtifacts.Omitted(
                  abbreviate(entry.path("name").asText()),
                  entry.path("reason").asText(),
                  size != null && size.canConvertToLong() ? size.asLong() : null));
        }
        omittedCount = Math.max(summary.path("omittedCount").asInt(), omitted.size());
        truncated = summary.path("truncated").asBoolean();
      } catch (IOException malformed) {
        fail("the record of artifacts left out is not JSON");
      }
    }
    return new CollectedArtifacts(files, omitted, omittedCount, truncated, problem);
  }

  /** Why a relative artifact path is unacceptable, or null. */
  static String nameProblem(String name) {
    if (name.isEmpty() || name.length() > 1000) {
      return "is empty or too long";
    }
    if (name.startsWith("/")) {
      return "is absolute";
    }
    for (String part : name.split("/", -1)) {
      if (part.isEmpty() || part.equals(".") || part.equals("..")) {
        return "has an empty, . or .. component";
      }
    }
    for (int i = 0; i < name.length(); i++) {
      if (Character.isISOControl(name.charAt(i))) {
        return "contains a control character";
      }
    }
    return null;
  }

  private static String abbreviate(String text) {
    return text.length() <= 200 ? text : text.substring(0, 200) + "...";
  }
}
