//! The Prometheus text exposition format (version 0.0.4), the format
//! Prometheus scrapes by default and `promtool check metrics` checks.
//!
//! Written here rather than with `prometheus-client`: that crate emits
//! only OpenMetrics, whose counter families (`# TYPE x counter` with
//! samples `x_total`) `promtool check metrics` reports as "no help text"
//! for every counter. Our metrics are computed at scrape time from a
//! sample anyway, so a registry of live metric objects would add nothing.

use std::fmt::Write as _;

/// A metric family's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (name ends in `_total`).
    Counter,
    /// Goes up and down.
    Gauge,
}

/// An exposition being written.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    /// Starts the family `name` (its HELP and TYPE lines). Counter names
    /// must end in `_total`, as Prometheus' conventions ask.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) -> &mut Self {
        debug_assert!(valid_name(name), "{name}");
        debug_assert_eq!(kind == Kind::Counter, name.ends_with("_total"), "{name}");
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let kind = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        };
        let _ = writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        self
    }

    /// One sample of the family started last.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) -> &mut Self {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let v = v
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n");
                let _ = write!(self.out, "{k}=\"{v}\"");
            }
            self.out.push('}');
        }
        if value.is_nan() {
            self.out.push_str(" NaN\n");
        } else if value.fract() == 0.0 && value.abs() < 9.0e15 {
            let _ = writeln!(self.out, " {}", value as i64);
        } else {
            let _ = writeln!(self.out, " {value}");
        }
        self
    }

    /// The text.
    pub fn finish(self) -> String {
        self.out
    }
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`
fn valid_name(n: &str) -> bool {
    let mut c = n.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_samples_and_escaping() {
        let mut e = Exposition::default();
        e.family("x_rx_packets_total", Kind::Counter, "Frames\nreceived")
            .sample(
                "x_rx_packets_total",
                &[("port", "a\"b\\c"), ("queue", "0")],
                5.0,
            )
            .sample("x_rx_packets_total", &[("port", "d"), ("queue", "0")], 1e17);
        e.family("x_busy_ratio", Kind::Gauge, "Busy")
            .sample("x_busy_ratio", &[], 0.25);
        assert_eq!(
            e.finish(),
            "# HELP x_rx_packets_total Frames\\nreceived\n# TYPE x_rx_packets_total counter\n\
             x_rx_packets_total{port=\"a\\\"b\\\\c\",queue=\"0\"} 5\n\
             x_rx_packets_total{port=\"d\",queue=\"0\"} 100000000000000000\n\
             # HELP x_busy_ratio Busy\n# TYPE x_busy_ratio gauge\nx_busy_ratio 0.25\n"
        );
        assert!(valid_name("xskfwd_a:b_1") && !valid_name("1x") && !valid_name("a-b"));
    }
}
