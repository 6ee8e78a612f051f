package dev.sandboxes.operator.testing;

import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A scrape of /metrics in the Prometheus text format (0.0.4): the names of the samples and the
 * declared type of each metric family, and whether a name that PromQL queries is there.
 */
public final class MetricsExposition {

  /** Series Prometheus adds itself for every target; they never appear in a scrape. */
  public static final Set<String> SYNTHETIC =
      Set.of(
          "up",
          "scrape_duration_seconds",
          "scrape_samples_scraped",
          "scrape_samples_post_metric_relabeling",
          "scrape_series_added");

  private static final List<String> HISTOGRAM_SUFFIXES = List.of("_bucket", "_count", "_sum");

  private final Set<String> samples = new LinkedHashSet<>();
  private final Map<String, String> types = new HashMap<>();

  private MetricsExposition() {}

  public static MetricsExposition parse(String text) {
    MetricsExposition exposition = new MetricsExposition();
    for (String line : text.split("\n")) {
      String l = line.strip();
      if (l.startsWith("# TYPE ")) {
        String[] parts = l.split("\\s+");
        if (parts.length >= 4) {
          exposition.types.put(parts[2], parts[3]);
        }
      } else if (!l.isEmpty() && !l.startsWith("#")) {
        int end = 0;
        while (end < l.length() && l.charAt(end) != '{' && !Character.isWhitespace(l.charAt(end))) {
          end++;
        }
        exposition.samples.add(l.substring(0, end));
      }
    }
    return exposition;
  }

  public Set<String> sampleNames() {
    return samples;
  }

  /** The declared type of a metric family (counter, gauge, histogram, summary). */
  public Optional<String> type(String family) {
    return Optional.ofNullable(types.get(family));
  }

  /**
   * Why a queried name is not served, or empty when it is: the name must be a sample of the scrape,
   * and a name with a histogram suffix (_bucket, _count, _sum) must belong to a family declared as
   * a histogram (or, for _count and _sum, a summary), so that histogram_quantile and averages over
   * it work.
   */
  public Optional<String> problemWith(String name) {
    if (SYNTHETIC.contains(name)) {
      return Optional.empty();
    }
    if (!samples.contains(name)) {
      return Optional.of(name + " is not in the scrape");
    }
    for (String suffix : HISTOGRAM_SUFFIXES) {
      if (name.endsWith(suffix)) {
        String family = name.substring(0, name.length() - suffix.length());
        String type = types.get(family);
        boolean ok =
            "histogram".equals(type) || (!suffix.equals("_bucket") && "summary".equals(type));
        if (type != null && !ok) {
          return Optional.of(
              name + " is a sample of " + family + ", declared " + type + ", not a histogram");
        }
        if (type == null && suffix.equals("_bucket")) {
          return Optional.of(name + ": no histogram family " + family + " is declared");
        }
      }
    }
    return Optional.empty();
  }
}
