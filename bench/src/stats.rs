//! What one closed-loop run measured, and medians over repeated runs.

use crate::hist::Histogram;
use std::time::Duration;

/// The outcome of one closed-loop run (raw load generator or client library).
#[derive(Debug, Clone, Default)]
pub struct RunStats {
    /// JSON-RPC calls completed inside the measurement window (a batch of 10 counts 10).
    pub calls: u64,
    /// Wrong, unmatched, failed or unanswered responses, over the whole run.
    pub errors: u64,
    /// Length of the measurement window.
    pub window: Duration,
    /// Round-trip latency of each request (or batch) completed inside the window.
    pub hist: Histogram,
}

impl RunStats {
    /// Adds another connection's or task's numbers; the window is shared, not summed.
    pub fn merge(&mut self, other: &RunStats) {
        self.calls += other.calls;
        self.errors += other.errors;
        self.window = self.window.max(other.window);
        self.hist.merge(&other.hist);
    }

    /// Calls per second over the window.
    pub fn calls_per_sec(&self) -> f64 {
        let secs = self.window.as_secs_f64();
        if secs > 0.0 {
            self.calls as f64 / secs
        } else {
            0.0
        }
    }

    /// Latency at quantile `q` in microseconds (0 when nothing completed).
    pub fn quantile_us(&self, q: f64) -> f64 {
        self.hist.quantile(q).map_or(0.0, |d| d.as_secs_f64() * 1e6)
    }

    /// The one-line form a client binary prints on stdout for the runner.
    pub fn result_line(&self) -> String {
        format!(
            "result calls={} errors={} secs={:.6} p50_us={:.3} p99_us={:.3} p999_us={:.3}",
            self.calls,
            self.errors,
            self.window.as_secs_f64(),
            self.quantile_us(0.5),
            self.quantile_us(0.99),
            self.quantile_us(0.999),
        )
    }
}

/// The numbers of a [`RunStats::result_line`], read back by the runner.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ResultLine {
    /// Calls completed inside the window.
    pub calls: u64,
    /// Errors over the run.
    pub errors: u64,
    /// Window length in seconds.
    pub secs: f64,
    /// Median latency, µs.
    pub p50_us: f64,
    /// 99th percentile latency, µs.
    pub p99_us: f64,
    /// 99.9th percentile latency, µs.
    pub p999_us: f64,
}

impl ResultLine {
    /// Parses a `result key=value ...` line; `None` if it is not one.
    pub fn parse(line: &str) -> Option<ResultLine> {
        let rest = line.trim().strip_prefix("result ")?;
        let mut out = ResultLine::default();
        for pair in rest.split_whitespace() {
            let (key, value) = pair.split_once('=')?;
            match key {
                "calls" => out.calls = value.parse().ok()?,
                "errors" => out.errors = value.parse().ok()?,
                "secs" => out.secs = value.parse().ok()?,
                "p50_us" => out.p50_us = value.parse().ok()?,
                "p99_us" => out.p99_us = value.parse().ok()?,
                "p999_us" => out.p999_us = value.parse().ok()?,
                _ => {}
            }
        }
        Some(out)
    }

    /// The same numbers taken straight from a run.
    pub fn from_stats(stats: &RunStats) -> ResultLine {
        ResultLine {
            calls: stats.calls,
            errors: stats.errors,
            secs: stats.window.as_secs_f64(),
            p50_us: stats.quantile_us(0.5),
            p99_us: stats.quantile_us(0.99),
            p999_us: stats.quantile_us(0.999),
        }
    }

    /// Calls per second.
    pub fn calls_per_sec(&self) -> f64 {
        if self.secs > 0.0 {
            self.calls as f64 / self.secs
        } else {
            0.0
        }
    }
}

/// Median, minimum and maximum of repeated measurements.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// Median (mean of the middle two for an even count).
    pub median: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
}

impl Spread {
    /// The spread of `values`; `None` when there are none.
    pub fn of(values: &[f64]) -> Option<Spread> {
        if values.is_empty() {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        Some(Spread {
            median,
            min: sorted[0],
            max: sorted[n - 1],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_median_min_max() {
        let s = Spread::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        assert_eq!(Spread::of(&[1.0, 4.0]).unwrap().median, 2.5);
        assert!(Spread::of(&[]).is_none());
    }

    #[test]
    fn result_line_round_trips() {
        let mut stats = RunStats {
            calls: 10,
            errors: 1,
            window: Duration::from_secs(2),
            ..RunStats::default()
        };
        stats.hist.record(Duration::from_micros(100));
        let parsed = ResultLine::parse(&stats.result_line()).unwrap();
        assert_eq!(parsed.calls, 10);
        assert_eq!(parsed.errors, 1);
        assert_eq!(parsed.calls_per_sec(), 5.0);
        assert!((parsed.p50_us - 100.0).abs() < 4.0);
        assert!(ResultLine::parse("listening 1.2.3.4:5").is_none());
    }
}
