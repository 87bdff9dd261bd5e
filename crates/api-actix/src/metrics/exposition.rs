//! The Prometheus text exposition format, version 0.0.4: `# HELP` and `# TYPE` lines,
//! samples with escaped label values, and histograms with fixed buckets.

use std::fmt::{Display, Write as _};

/// The media type of [`Exposition::finish`]'s text.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds of the latency buckets, in seconds: Prometheus' defaults, which span a
/// cached answer (< 5 ms) to an Argon2 login on a loaded node (seconds).
pub(crate) const LATENCY_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Observations of one label set: per-bucket counts (not cumulative), sum and count.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Histogram {
    buckets: [u64; LATENCY_BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    pub(crate) fn observe(&mut self, seconds: f64) {
        if let Some(index) = LATENCY_BUCKETS.iter().position(|bound| seconds <= *bound) {
            self.buckets[index] += 1;
        }
        self.sum += seconds;
        self.count += 1;
    }
}

/// A metrics page being written.
#[derive(Debug, Default)]
pub(crate) struct Exposition {
    text: String,
}

impl Exposition {
    /// Starts a metric family: its help text and type (`counter`, `gauge`,
    /// `histogram`). Its samples follow.
    pub(crate) fn family(&mut self, name: &str, kind: &str, help: &str) {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    /// One sample line.
    pub(crate) fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Display) {
        self.text.push_str(name);
        write_labels(&mut self.text, labels, None);
        let _ = writeln!(self.text, " {value}");
    }

    /// The `_bucket` (cumulative, ending with `+Inf`), `_sum` and `_count` lines of
    /// one histogram.
    pub(crate) fn histogram(&mut self, name: &str, labels: &[(&str, &str)], histogram: &Histogram) {
        let mut cumulative = 0;
        for (bound, count) in LATENCY_BUCKETS.iter().zip(histogram.buckets) {
            cumulative += count;
            let _ = write!(self.text, "{name}_bucket");
            write_labels(&mut self.text, labels, Some(&bound.to_string()));
            let _ = writeln!(self.text, " {cumulative}");
        }
        let _ = write!(self.text, "{name}_bucket");
        write_labels(&mut self.text, labels, Some("+Inf"));
        let _ = writeln!(self.text, " {}", histogram.count);
        self.sample(&format!("{name}_sum"), labels, histogram.sum);
        self.sample(&format!("{name}_count"), labels, histogram.count);
    }

    pub(crate) fn finish(self) -> String {
        self.text
    }
}

fn write_labels(text: &mut String, labels: &[(&str, &str)], le: Option<&str>) {
    if labels.is_empty() && le.is_none() {
        return;
    }
    text.push('{');
    let mut first = true;
    for (name, value) in labels.iter().copied().chain(le.map(|le| ("le", le))) {
        if !first {
            text.push(',');
        }
        first = false;
        let _ = write!(text, "{name}=\"");
        for c in value.chars() {
            match c {
                '\\' => text.push_str("\\\\"),
                '"' => text.push_str("\\\""),
                '\n' => text.push_str("\\n"),
                c => text.push(c),
            }
        }
        text.push('"');
    }
    text.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        let mut page = Exposition::default();
        page.sample("m", &[("a", "x\"y\\z\nw"), ("b", "")], 1);
        assert_eq!(page.finish(), "m{a=\"x\\\"y\\\\z\\nw\",b=\"\"} 1\n");
    }

    #[test]
    fn histograms_are_cumulative_and_end_with_inf() {
        let mut histogram = Histogram::default();
        histogram.observe(0.003);
        histogram.observe(0.2);
        histogram.observe(60.0);
        let mut page = Exposition::default();
        page.histogram("h", &[("route", "/x")], &histogram);
        let text = page.finish();
        assert!(
            text.contains("h_bucket{route=\"/x\",le=\"0.005\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("h_bucket{route=\"/x\",le=\"0.25\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("h_bucket{route=\"/x\",le=\"10\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("h_bucket{route=\"/x\",le=\"+Inf\"} 3\n"),
            "{text}"
        );
        assert!(text.contains("h_count{route=\"/x\"} 3\n"), "{text}");
        assert!(text.contains("h_sum{route=\"/x\"} 60.203"), "{text}");
    }
}
