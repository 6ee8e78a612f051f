package dev.sandboxes.operator.codeexecution;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Iterator;
import java.util.Map;

/**
 * The size of JSON as the API server stores it. Kubernetes encodes with Go's encoding/json rules:
 * {@code <}, {@code >}, {@code &}, U+2028, U+2029 and control characters other than \n, \r and \t
 * become six-byte {@code \}{@code uXXXX} escapes, so a string's stored size can be six times its
 * UTF-8 size. Counting raw bytes is how a status that "fits" still exceeds etcd's limit.
 */
public final class EncodedJsonSize {

  private EncodedJsonSize() {}

  /** Bytes of one code point inside a JSON string. */
  public static int ofCodePoint(int cp) {
    if (cp == '"' || cp == '\\' || cp == '\n' || cp == '\r' || cp == '\t') {
      return 2;
    }
    if (cp < 0x20 || cp == '<' || cp == '>' || cp == '&' || cp == 0x2028 || cp == 0x2029) {
      return 6;
    }
    if (cp < 0x80) {
      return 1;
    }
    if (cp < 0x800) {
      return 2;
    }
    if (cp >= Character.MIN_SURROGATE && cp <= Character.MAX_SURROGATE) {
      return 6; // a lone surrogate is not UTF-8: stored as the escaped replacement character
    }
    return cp < 0x10000 ? 3 : 4;
  }

  /** Bytes of a JSON string, quotes included. */
  public static long ofString(String value) {
    long size = 2;
    for (int i = 0; i < value.length(); ) {
      int cp = value.codePointAt(i);
      size += ofCodePoint(cp);
      i += Character.charCount(cp);
    }
    return size;
  }

  /**
   * The longest prefix of {@code value}, never splitting a character, whose encoded content (quotes
   * not counted) takes at most {@code maxBytes}.
   */
  public static String prefixWithin(String value, long maxBytes) {
    long size = 0;
    int i = 0;
    while (i < value.length()) {
      int cp = value.codePointAt(i);
      int next = ofCodePoint(cp);
      if (size + next > maxBytes) {
        break;
      }
      size += next;
      i += Character.charCount(cp);
    }
    return value.substring(0, i);
  }

  /** Bytes of a JSON tree, without whitespace. Iterative: a deep tree cannot exhaust the stack. */
  public static long of(JsonNode root) {
    long size = 0;
    Deque<JsonNode> pending = new ArrayDeque<>();
    pending.push(root);
    while (!pending.isEmpty()) {
      JsonNode node = pending.pop();
      if (node.isObject()) {
        size += 2 + Math.max(0, node.size() - 1); // braces and commas
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
          Map.Entry<String, JsonNode> field = it.next();
          size += ofString(field.getKey()) + 1;
          pending.push(field.getValue());
        }
      } else if (node.isArray()) {
        size += 2 + Math.max(0, node.size() - 1);
        node.forEach(pending::push);
      } else if (node.isTextual()) {
        size += ofString(node.textValue());
      } else if (node.isNull() || node.isMissingNode()) {
        size += 4;
      } else {
        size += node.asText().length(); // numbers and booleans
      }
    }
    return size;
  }

  /**
   * What the API server's managedFields add for a free-form value: it lists the top-level keys of
   * an object (seen on Kubernetes 1.20 for x-kubernetes-preserve-unknown-fields: deeper levels and
   * arrays are atomic) as {@code "f:key":{}}.
   */
  public static long managedFieldsOf(JsonNode root) {
    long size = 0;
    if (root.isObject()) {
      for (Iterator<String> names = root.fieldNames(); names.hasNext(); ) {
        size += ofString(names.next()) + 6;
      }
    }
    return size;
  }
}
