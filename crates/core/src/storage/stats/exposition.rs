//! The fleet's figures as metrics: the OpenMetrics text format (OpenMetrics 1.0, what
//! Prometheus asks for first) or the Prometheus text format 0.0.4 (what any other scraper and
//! `promtool check metrics` read), chosen by the scraper's `Accept`.
//!
//! Every label value comes from a bounded set (rulesets, reasons and locations are capped by
//! the statistics) and is escaped as both formats require: "label values … backslash, double
//! quote and line feed MUST be escaped as `\\`, `\"` and `\n`" (OpenMetrics 1.0, ABNF
//! `escaped-string`).

use std::fmt::Write;

use super::fleet::Rollup;
use super::sketch::{upper_bound_ms, LatencySketch};
use super::{Counters, Kind};
use crate::http::Time;

/// Which text format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    OpenMetrics,
    Prometheus,
}

impl Format {
    /// The format a scraper's `Accept` asks for: OpenMetrics when it names
    /// `application/openmetrics-text`, else the Prometheus text format.
    pub fn from_accept(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.to_ascii_lowercase().contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Prometheus,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
        }
    }
}

fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

struct Writer {
    out: String,
    format: Format,
}

impl Writer {
    /// `# HELP` and `# TYPE` of a family; a counter's family is named without `_total` in
    /// OpenMetrics and with it in the Prometheus format.
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let family = match (self.format, kind) {
            (Format::Prometheus, "counter") => format!("{name}_total"),
            _ => name.to_string(),
        };
        let _ = writeln!(self.out, "# HELP {family} {help}");
        let _ = writeln!(self.out, "# TYPE {family} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }
}

fn seconds(ms: f64) -> String {
    let s = ms / 1000.0;
    format!("{s}")
}

fn histogram(w: &mut Writer, name: &str, sketch: &LatencySketch) {
    let mut cumulative = 0u64;
    for (i, c) in sketch.counts().enumerate() {
        cumulative = cumulative.saturating_add(c);
        let le = upper_bound_ms(i).map_or_else(|| "+Inf".to_string(), seconds);
        w.sample(&format!("{name}_bucket"), &[("le", &le)], cumulative);
    }
    w.sample(&format!("{name}_count"), &[], cumulative);
    w.sample(&format!("{name}_sum"), &[], seconds(sketch.sum_ms as f64));
}

/// The roll-up's figures in `format`, at `now`.
pub fn render(rollup: &Rollup, format: Format, now: Time) -> String {
    let mut w = Writer { out: String::new(), format };
    let rulesets: Vec<(&String, &Counters)> = rollup.figures.rulesets.iter().collect();

    w.family("rulecache_requests", "counter", "Requests answered, by ruleset and outcome.");
    for (name, c) in &rulesets {
        for kind in Kind::ALL {
            w.sample(
                "rulecache_requests_total",
                &[("ruleset", name), ("outcome", kind.as_str())],
                c.of(kind),
            );
        }
    }
    w.family(
        "rulecache_bypass",
        "counter",
        "Requests the policy sent past the cache, by ruleset and reason.",
    );
    for (name, c) in &rulesets {
        for (reason, n) in &c.bypass_reasons {
            w.sample("rulecache_bypass_total", &[("ruleset", name), ("reason", reason)], n);
        }
    }
    w.family("rulecache_not_stored", "counter", "Origin responses not stored, by ruleset and reason.");
    for (name, c) in &rulesets {
        for (reason, n) in &c.not_stored {
            w.sample("rulecache_not_stored_total", &[("ruleset", name), ("reason", reason)], n);
        }
    }
    w.family("rulecache_response_bytes", "counter", "Body bytes sent to clients, by ruleset and source.");
    for (name, c) in &rulesets {
        w.sample(
            "rulecache_response_bytes_total",
            &[("ruleset", name), ("source", "cache")],
            c.bytes_from_cache,
        );
        w.sample(
            "rulecache_response_bytes_total",
            &[("ruleset", name), ("source", "origin")],
            c.bytes_from_origin,
        );
    }
    w.family("rulecache_purges", "counter", "Purge requests taken and carried out.");
    w.sample("rulecache_purges_total", &[], rollup.figures.purges);
    w.family(
        "rulecache_invalidations",
        "counter",
        "Targets origins' responses to unsafe requests invalidated, by kind.",
    );
    let inv = &rollup.figures.invalidations;
    for (kind, n) in [
        ("response", inv.responses),
        ("url", inv.urls),
        ("group", inv.groups),
        ("whole_site", inv.whole_site),
    ] {
        w.sample("rulecache_invalidations_total", &[("kind", kind)], n);
    }
    w.family("rulecache_origin_latency_seconds", "histogram", "Time to the origin's response head.");
    histogram(&mut w, "rulecache_origin_latency_seconds", &rollup.figures.origin_latency);
    w.family("rulecache_location_requests", "counter", "Requests answered, by location.");
    for (name, state) in &rollup.locations {
        w.sample("rulecache_location_requests_total", &[("location", name)], state.totals.requests());
    }
    w.family("rulecache_location_isolates", "gauge", "Isolates active at the location's last report.");
    for (name, state) in &rollup.locations {
        w.sample("rulecache_location_isolates", &[("location", name)], state.isolates);
    }
    w.family("rulecache_location_report_age_seconds", "gauge", "Time since the location last reported.");
    for (name, state) in &rollup.locations {
        w.sample(
            "rulecache_location_report_age_seconds",
            &[("location", name)],
            seconds(now.saturating_sub(state.last_report) as f64),
        );
    }
    if format == Format::OpenMetrics {
        w.out.push_str("# EOF\n");
    }
    w.out
}

#[cfg(test)]
mod tests {
    use super::super::fleet::LocationReport;
    use super::super::{Figures, Outcome, Served};
    use super::*;

    #[test]
    fn both_formats_name_counters_as_each_requires_and_escape_label_values() {
        let mut figures = Figures::default();
        let served = Served {
            ruleset: Some("a\"b\\c\nd"),
            outcome: Outcome::Bypass,
            status: 200,
            not_stored: Some("anon-only"),
            bytes_from_cache: 0,
            bytes_from_origin: 12,
            origin_ms: Some(40),
        };
        figures.record(&served, 0);
        let mut rollup = Rollup::new(0);
        rollup.apply(
            &LocationReport {
                location: "AMS".into(),
                seq: 1,
                sent_at: 0,
                figures,
                ledger: None,
                isolates: 2,
            },
            0,
        );
        let om = render(&rollup, Format::OpenMetrics, 1_000);
        assert!(om.contains("# TYPE rulecache_requests counter\n"));
        assert!(om.contains("rulecache_requests_total{ruleset=\"a\\\"b\\\\c\\nd\",outcome=\"bypass\"} 1\n"));
        assert!(om.contains("rulecache_bypass_total{ruleset=\"a\\\"b\\\\c\\nd\",reason=\"anon-only\"} 1\n"));
        assert!(om.contains("rulecache_origin_latency_seconds_bucket{le=\"+Inf\"} 1\n"));
        assert!(om.contains("rulecache_origin_latency_seconds_sum 0.04\n"));
        assert!(om.ends_with("# EOF\n"));
        let prom = render(&rollup, Format::Prometheus, 1_000);
        assert!(prom.contains("# TYPE rulecache_requests_total counter\n"));
        assert!(!prom.contains("# EOF"));
        assert!(prom.contains("rulecache_location_isolates{location=\"AMS\"} 2\n"));
        assert_eq!(
            Format::from_accept(Some("application/openmetrics-text;version=1.0.0,text/plain;q=0.5")),
            Format::OpenMetrics
        );
        assert_eq!(Format::from_accept(None), Format::Prometheus);
    }
}
