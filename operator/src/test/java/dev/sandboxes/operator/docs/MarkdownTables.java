package dev.sandboxes.operator.docs;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Reads the rows of the Markdown tables under one heading of a document, cell by cell. */
final class MarkdownTables {

  private static final Pattern CODE = Pattern.compile("`([^`]+)`");

  private MarkdownTables() {}

  /**
   * The body rows (header and separator left out) of every table between {@code heading} (a whole
   * line, e.g. "### Event reasons") and the next heading of any level. Fails when the heading is
   * missing or holds no table, so a renamed section cannot make a check pass on nothing.
   */
  static List<List<String>> rows(String markdown, String heading) {
    List<String> lines = markdown.lines().toList();
    int start = lines.indexOf(heading);
    if (start < 0) {
      throw new AssertionError("no heading '" + heading + "'");
    }
    List<List<String>> rows = new ArrayList<>();
    boolean inTable = false;
    for (String line : lines.subList(start + 1, lines.size())) {
      if (line.startsWith("#")) {
        break;
      }
      if (!line.startsWith("|")) {
        inTable = false;
        continue;
      }
      if (!inTable) {
        inTable = true; // the header row
        continue;
      }
      if (line.matches("\\|[-|: ]+\\|")) {
        continue; // the separator row
      }
      rows.add(cells(line));
    }
    if (rows.isEmpty()) {
      throw new AssertionError("no table rows under '" + heading + "'");
    }
    return rows;
  }

  /** The `code` spans of a cell, in order. */
  static List<String> codeSpans(String cell) {
    List<String> spans = new ArrayList<>();
    Matcher m = CODE.matcher(cell);
    while (m.find()) {
      spans.add(m.group(1));
    }
    return spans;
  }

  private static List<String> cells(String line) {
    String inner = line.strip();
    inner = inner.substring(1, inner.endsWith("|") ? inner.length() - 1 : inner.length());
    List<String> cells = new ArrayList<>();
    for (String cell : inner.split("\\|", -1)) {
      cells.add(cell.strip());
    }
    return cells;
  }
}
