package dev.sandboxes.operator.testing;

import java.util.LinkedHashSet;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The metric names a PromQL expression selects, found by a small tokenizer: enough of the grammar
 * (strings, label matchers, ranges, numbers and durations, functions, aggregations with their
 * by/without lists, vector matching with on/ignoring/group_left/group_right, Grafana's $variables)
 * to tell a metric name from everything else. It does not validate the expression.
 */
public final class PromQl {

  /** Words that are operators or modifiers wherever they stand, never metric names. */
  private static final Set<String> KEYWORDS =
      Set.of(
          "and",
          "or",
          "unless",
          "bool",
          "offset",
          "atan2",
          "inf",
          "nan",
          "start",
          "end",
          "sum",
          "min",
          "max",
          "avg",
          "group",
          "stddev",
          "stdvar",
          "count",
          "count_values",
          "bottomk",
          "topk",
          "quantile",
          "limitk",
          "limit_ratio");

  /** Modifiers followed by a parenthesised list of label names. */
  private static final Set<String> LABEL_LIST_MODIFIERS =
      Set.of("by", "without", "on", "ignoring", "group_left", "group_right");

  private static final Pattern NAME_MATCHER =
      Pattern.compile("__name__\\s*=\\s*\"([a-zA-Z_:][a-zA-Z0-9_:]*)\"");

  private PromQl() {}

  /** The metric names the expression selects, in order of appearance. */
  public static Set<String> metricNames(String expression) {
    Set<String> names = new LinkedHashSet<>();
    String e = expression;
    int i = 0;
    while (i < e.length()) {
      char c = e.charAt(i);
      if (c == '"' || c == '\'' || c == '`') {
        i = skipString(e, i);
      } else if (c == '{') {
        int end = skipTo(e, i, '}');
        Matcher name = NAME_MATCHER.matcher(e.substring(i, end));
        if (name.find()) {
          names.add(name.group(1)); // {__name__="metric"}
        }
        i = end;
      } else if (c == '[') {
        i = skipTo(e, i, ']');
      } else if (c == '#') {
        i = skipLine(e, i);
      } else if (c == '$') {
        i = skipVariable(e, i);
      } else if (Character.isDigit(c)
          || (c == '.' && i + 1 < e.length() && Character.isDigit(e.charAt(i + 1)))) {
        i = skipNumber(e, i);
      } else if (isIdentifierStart(c)) {
        int start = i;
        while (i < e.length() && isIdentifierPart(e.charAt(i))) {
          i++;
        }
        String word = e.substring(start, i);
        int next = skipSpaces(e, i);
        boolean call = next < e.length() && e.charAt(next) == '(';
        if (LABEL_LIST_MODIFIERS.contains(word)) {
          if (call) {
            i = skipTo(e, next, ')');
          }
        } else if (!call && !KEYWORDS.contains(word)) {
          names.add(word);
        }
      } else {
        i++;
      }
    }
    return names;
  }

  private static boolean isIdentifierStart(char c) {
    return Character.isLetter(c) || c == '_' || c == ':';
  }

  private static boolean isIdentifierPart(char c) {
    return Character.isLetterOrDigit(c) || c == '_' || c == ':';
  }

  private static int skipSpaces(String e, int i) {
    while (i < e.length() && Character.isWhitespace(e.charAt(i))) {
      i++;
    }
    return i;
  }

  /** Past the closing quote; backslash escapes in "" and '' strings, none in `` strings. */
  private static int skipString(String e, int i) {
    char quote = e.charAt(i);
    i++;
    while (i < e.length() && e.charAt(i) != quote) {
      if (e.charAt(i) == '\\' && quote != '`') {
        i++;
      }
      i++;
    }
    return i + 1;
  }

  /** Past the closing bracket, skipping strings (a label value may hold any bracket). */
  private static int skipTo(String e, int i, char close) {
    char open = e.charAt(i);
    int depth = 0;
    while (i < e.length()) {
      char c = e.charAt(i);
      if (c == '"' || c == '\'' || c == '`') {
        i = skipString(e, i);
        continue;
      }
      if (c == open) {
        depth++;
      } else if (c == close) {
        depth--;
        if (depth == 0) {
          return i + 1;
        }
      }
      i++;
    }
    throw new IllegalArgumentException("unbalanced '" + open + "' in: " + e);
  }

  private static int skipLine(String e, int i) {
    int end = e.indexOf('\n', i);
    return end < 0 ? e.length() : end + 1;
  }

  /** Grafana variables: $name, ${name}, ${name:format}, $__rate_interval. */
  private static int skipVariable(String e, int i) {
    i++;
    if (i < e.length() && e.charAt(i) == '{') {
      return skipTo(e, i, '}');
    }
    while (i < e.length() && isIdentifierPart(e.charAt(i))) {
      i++;
    }
    return i;
  }

  /** Numbers, hex, exponents and durations such as 5m or 1h30m. */
  private static int skipNumber(String e, int i) {
    while (i < e.length() && (Character.isLetterOrDigit(e.charAt(i)) || e.charAt(i) == '.')) {
      char c = e.charAt(i);
      if ((c == 'e' || c == 'E')
          && i + 1 < e.length()
          && (e.charAt(i + 1) == '+' || e.charAt(i + 1) == '-')) {
        i++;
      }
      i++;
    }
    return i;
  }
}
