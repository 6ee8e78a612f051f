package dev.sandboxes.operator.codeexecution;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Arguments given as JSON text (spec.argumentsJSON, or a ConfigMap or Secret key): exactly one JSON
 * object, without duplicate keys. Problems name the place, never the text (it may be confidential).
 */
public final class ArgumentsJson {

  private static final ObjectMapper JSON =
      JsonMapper.builder()
          .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
          .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
          .build();

  static {
    // Deeper nesting is refused by the validator; the parser stops well before a stack overflow.
    JSON.getFactory()
        .setStreamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(1000).build());
  }

  /** The object, or the problem ("is not valid JSON (line 1, column 7): ..."), one of them null. */
  public record Parsed(ObjectNode object, String problem) {}

  private ArgumentsJson() {}

  /** Parses text that must hold one JSON object. */
  public static Parsed parse(String text) {
    JsonNode node;
    try {
      node = JSON.readTree(text);
    } catch (JsonProcessingException e) {
      JsonLocation where = e.getLocation();
      String at =
          where == null
              ? ""
              : " (line " + where.getLineNr() + ", column " + where.getColumnNr() + ")";
      String why =
          e.getOriginalMessage() != null && e.getOriginalMessage().startsWith("Duplicate field")
              ? "a key appears twice"
              : "it is not valid JSON";
      return new Parsed(
          null, "must hold a JSON object such as {\"a\": 1, \"b\": null}, but " + why + at);
    }
    if (node == null || node.isMissingNode()) {
      return new Parsed(
          null, "is empty; it must hold a JSON object such as {\"a\": 1, \"b\": null}");
    }
    if (!node.isObject()) {
      return new Parsed(
          null,
          "must hold a JSON object such as {\"a\": 1, \"b\": null}, not "
              + kind(node)
              + " (arguments are passed by name)");
    }
    return new Parsed((ObjectNode) node, null);
  }

  private static String kind(JsonNode node) {
    return switch (node.getNodeType()) {
      case ARRAY -> "an array";
      case STRING -> "a string";
      case NUMBER -> "a number";
      case BOOLEAN -> "a boolean";
      case NULL -> "null";
      default -> "a " + node.getNodeType().name().toLowerCase(java.util.Locale.ROOT);
    };
  }
}
