package dev.sandboxes.operator.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The metric-name extraction the dashboard and alert checks rely on. */
@Tag("unit")
class PromQlTest {

  @Test
  void findsSelectorsInsideFunctionsAndAggregations() {
    assertThat(
            PromQl.metricNames(
                "histogram_quantile(0.99, sum by (le, type) (rate(sandbox_codeexecution_duration_seconds_bucket{job=~\"$job\"}[$__rate_interval])))"))
        .containsExactly("sandbox_codeexecution_duration_seconds_bucket");
    assertThat(
            PromQl.metricNames(
                "sum(rate(a_total[5m])) by (type) / ignoring(outcome) group_left(language) b"))
        .containsExactly("a_total", "b");
    assertThat(PromQl.metricNames("max without (pod) (x) > 300")).containsExactly("x");
  }

  @Test
  void labelMatchersStringsDurationsAndVariablesAreNotNames() {
    assertThat(
            PromQl.metricNames(
                "100 * sum by (type) (rate(c_total{outcome=\"SandboxFailed\", job=\"x-metrics\"}[10m] offset 1h30m)) > bool 5e-1"))
        .containsExactly("c_total");
    assertThat(PromQl.metricNames("label_replace(m{a=\"}{\"}, \"dst\", \"$1\", \"src\", \"(.*)\")"))
        .containsExactly("m");
    assertThat(PromQl.metricNames("${datasource} + $job + m2")).containsExactly("m2");
  }

  @Test
  void absentAndNameMatchersAreFollowed() {
    assertThat(PromQl.metricNames("absent(up{job=\"a\", namespace=\"b\"} == 1)"))
        .containsExactly("up");
    assertThat(PromQl.metricNames("{__name__=\"jvm_threads_live_threads\"}"))
        .containsExactly("jvm_threads_live_threads");
    assertThat(PromQl.metricNames("sum(a) and on(type) b unless c or d"))
        .containsExactly("a", "b", "c", "d");
  }

  @Test
  void unbalancedBracketsAreReported() {
    assertThatThrownBy(() -> PromQl.metricNames("rate(x[5m)")).hasMessageContaining("unbalanced");
  }

  @Test
  void aScrapeServesSamplesAndHistogramSuffixesMapToTheirFamily() {
    MetricsExposition scrape =
        MetricsExposition.parse(
            """
        # HELP d_seconds a histogram
        # TYPE d_seconds histogram
        d_seconds_bucket{le="1.0"} 1
        d_seconds_bucket{le="+Inf"} 1
        d_seconds_count 1
        d_seconds_sum 0.5
        # TYPE g gauge
        g{type="Docker"} 1.0
        # TYPE c_count counter
        c_count_total 2.0
        """);
    assertThat(scrape.problemWith("d_seconds_bucket")).isEmpty();
    assertThat(scrape.problemWith("d_seconds_count")).isEmpty();
    assertThat(scrape.problemWith("g")).isEmpty();
    assertThat(scrape.problemWith("up")).isEmpty(); // added by Prometheus
    assertThat(scrape.problemWith("missing")).contains("missing is not in the scrape");
    assertThat(scrape.problemWith("c_count_total")).isEmpty();
    assertThat(scrape.type("d_seconds")).contains("histogram");
  }
}
