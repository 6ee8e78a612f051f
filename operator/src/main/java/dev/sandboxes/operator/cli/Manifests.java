package dev.sandboxes.operator.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Reading and writing Kubernetes manifests (YAML with several documents, or JSON). */
public final class Manifests {

  static final ObjectMapper YAML =
      YAMLMapper.builder()
          .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
          .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
          .enable(YAMLGenerator.Feature.ALWAYS_QUOTE_NUMBERS_AS_STRINGS)
          .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
          .build();
  static final ObjectMapper JSON =
      new ObjectMapper()
          .enable(SerializationFeature.INDENT_OUTPUT)
          .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  private Manifests() {}

  /** A parsed document and where it came from, for error messages. */
  public record Document(JsonNode node, String origin) {
    public String kind() {
      JsonNode kind = node.get("kind");
      return kind == null ? null : kind.asText();
    }

    public String apiVersion() {
      JsonNode apiVersion = node.get("apiVersion");
      return apiVersion == null ? null : apiVersion.asText();
    }
  }

  /** All non-empty documents of a file; a `kind: List` is flattened into its items. */
  public static List<Document> read(Path file) throws IOException {
    String text = Files.readString(file);
    List<Document> documents = new ArrayList<>();
    YAMLFactory factory = new YAMLFactory();
    try (var parser = factory.createParser(text)) {
      int index = 0;
      while (parser.nextToken() != null) {
        index++;
        JsonNode node = YAML.readTree(parser);
        if (node == null || node.isNull() || node.isMissingNode()) {
          continue;
        }
        String origin = file + " (document " + index + ")";
        if (!node.isObject()) {
          throw new IllegalArgumentException(origin + " is not a Kubernetes object");
        }
        if ("List".equals(node.path("kind").asText()) && node.has("items")) {
          int item = 0;
          for (JsonNode child : node.get("items")) {
            documents.add(new Document(child, origin + " item " + item++));
          }
        } else {
          documents.add(new Document(node, origin));
        }
      }
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException(
          file + " is not valid YAML or JSON: " + e.getOriginalMessage(), e);
    }
    return documents;
  }

  /** Converts a document to a model class, with a message naming the document on failure. */
  public static <T> T convert(Document document, Class<T> type) {
    try {
      return YAML.treeToValue(document.node(), type);
    } catch (JsonProcessingException | IllegalArgumentException e) {
      String detail =
          e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.getMessage();
      throw new IllegalArgumentException(
          document.origin() + " is not a valid " + type.getSimpleName() + ": " + detail, e);
    }
  }

  /** Serialises for output. */
  public static String write(Object value, String format) throws JsonProcessingException {
    return "json".equals(format)
        ? JSON.writeValueAsString(value) + "\n"
        : YAML.writeValueAsString(value);
  }
}
