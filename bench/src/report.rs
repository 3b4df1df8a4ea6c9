//! The markdown table of medians and ranges, the ratios, and the machine note.

use crate::stats::Spread;
use std::fmt::Write as _;

/// What a table row measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Completed calls per second (higher is better).
    CallsPerSec,
    /// Median round trip, µs.
    P50,
    /// 99th percentile round trip, µs.
    P99,
    /// 99.9th percentile round trip, µs.
    P999,
    /// Server RSS per idle connection, KiB.
    KibPerConn,
    /// Trigger to last client receiving, ms.
    BroadcastMs,
    /// Connections dialled, upgraded and answering per second (higher is better).
    ConnsPerSec,
    /// Server CPU time per connection opened, µs (lower is better).
    CpuUsPerConn,
}

impl Metric {
    /// Label with unit and which direction is better.
    pub fn label(self) -> &'static str {
        match self {
            Metric::CallsPerSec => "calls/s ↑",
            Metric::P50 => "p50 µs ↓",
            Metric::P99 => "p99 µs ↓",
            Metric::P999 => "p99.9 µs ↓",
            Metric::KibPerConn => "KiB/conn ↓",
            Metric::BroadcastMs => "ms to all ↓",
            Metric::ConnsPerSec => "conns/s ↑",
            Metric::CpuUsPerConn => "server CPU µs/conn ↓",
        }
    }
}

/// The columns of the table, in order; ratios compare `ours` with the first two.
pub const COLUMNS: [&str; 3] = ["jsonrpsee", "bound", "ours"];

/// One table row: a scenario's metric and every run's value per column.
#[derive(Debug, Clone)]
struct Row {
    scenario: String,
    metric: Metric,
    values: [Vec<f64>; 3],
}

/// Everything measured so far, in the order rows first appeared, plus notes.
#[derive(Debug, Clone)]
pub struct Results {
    rows: Vec<Row>,
    notes: Vec<String>,
    columns: [&'static str; 3],
    /// The two ratio columns: (numerator, denominator) indices into `columns`.
    ratios: [(usize, usize); 2],
}

impl Default for Results {
    /// The main table: [`COLUMNS`], ratios ours/jsonrpsee and ours/bound.
    fn default() -> Self {
        Self {
            rows: Vec::new(),
            notes: Vec::new(),
            columns: COLUMNS,
            ratios: [(2, 0), (2, 1)],
        }
    }
}

impl Results {
    /// A table of other columns, its ratio columns dividing column `n` by column `d` for each
    /// `(n, d)` of `ratios`.
    pub fn with_columns(columns: [&'static str; 3], ratios: [(usize, usize); 2]) -> Self {
        Self {
            columns,
            ratios,
            ..Self::default()
        }
    }

    /// Records one run's `value` of `metric` in `scenario` for `column`.
    pub fn add(&mut self, scenario: &str, metric: Metric, column: &str, value: f64) {
        let Some(col) = self.columns.iter().position(|c| *c == column) else {
            return;
        };
        let row = match self
            .rows
            .iter()
            .position(|r| r.scenario == scenario && r.metric == metric)
        {
            Some(i) => &mut self.rows[i],
            None => {
                self.rows.push(Row {
                    scenario: scenario.to_string(),
                    metric,
                    values: Default::default(),
                });
                self.rows.last_mut().expect("just pushed")
            }
        };
        row.values[col].push(value);
    }

    /// Adds a note printed under the table (skips, failures, errors), once.
    pub fn note(&mut self, note: String) {
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }

    /// The markdown table followed by the notes.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let [a, b, c] = self.columns;
        let names = |(n, d): (usize, usize)| format!("{}/{}", self.columns[n], self.columns[d]);
        let _ = writeln!(
            out,
            "| scenario | metric | {a} | {b} | {c} | {} | {} |",
            names(self.ratios[0]),
            names(self.ratios[1])
        );
        out.push_str("|---|---|---:|---:|---:|---:|---:|\n");
        for row in &self.rows {
            let spreads = row.values.each_ref().map(|v| Spread::of(v));
            let cells = spreads.map(|s| s.map_or_else(|| "n/a".to_string(), cell));
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                row.scenario,
                row.metric.label(),
                cells[0],
                cells[1],
                cells[2],
                ratio(spreads[self.ratios[0].0], spreads[self.ratios[0].1]),
                ratio(spreads[self.ratios[1].0], spreads[self.ratios[1].1]),
            );
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for note in &self.notes {
                let _ = writeln!(out, "- {note}");
            }
        }
        out
    }
}

/// `median (min–max)`, or just the median when every run gave the same value.
fn cell(s: Spread) -> String {
    if s.min == s.max {
        num(s.median)
    } else {
        format!("{} ({}–{})", num(s.median), num(s.min), num(s.max))
    }
}

/// Ratio of medians, `n/a` when either side is missing.
fn ratio(ours: Option<Spread>, other: Option<Spread>) -> String {
    // (The numerator is "ours" in the main table, a deployment variant in `--deploy`'s.)
    match (ours, other) {
        (Some(o), Some(t)) if t.median > 0.0 => format!("{:.2}×", o.median / t.median),
        _ => "n/a".to_string(),
    }
}

/// A number with sensible precision: thousands grouped from 1,000, decimals below 100.
fn num(v: f64) -> String {
    if v >= 100.0 {
        let digits = format!("{:.0}", v);
        let mut grouped = String::new();
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(ch);
        }
        grouped
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// One line about the machine: cores, CPU, kernel, date (UTC).
pub fn machine_note() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown kernel".to_string());
    format!(
        "machine: nproc {cores} · {cpu} · Linux {kernel} · {} UTC · load generator and server share the cores, nothing pinned",
        utc_now()
    )
}

/// The current UTC date and time as `YYYY-MM-DD HH:MM`.
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// Gregorian (year, month, day) of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Shift to 0000-03-01, so leap days fall at the end of a 400-year era's years.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_454), (2026, 1, 1));
    }

    #[test]
    fn numbers() {
        assert_eq!(num(1_234_567.4), "1,234,567");
        assert_eq!(num(123.4), "123");
        assert_eq!(num(12.34), "12.3");
        assert_eq!(num(1.234), "1.23");
    }

    #[test]
    fn table_has_ratios_or_na() {
        let mut r = Results::default();
        r.add("a", Metric::CallsPerSec, "jsonrpsee", 100.0);
        r.add("a", Metric::CallsPerSec, "jsonrpsee", 300.0);
        r.add("a", Metric::CallsPerSec, "ours", 400.0);
        r.note("ours: missing".into());
        let md = r.to_markdown();
        assert!(
            md.contains("| a | calls/s ↑ | 200 (100–300) | n/a | 400 | 2.00× | n/a |"),
            "{md}"
        );
        assert!(md.contains("- ours: missing"));
    }

    #[test]
    fn deploy_table_divides_variants_by_the_plain_listener() {
        let mut r = Results::with_columns(["ours", "axum", "wss"], [(1, 0), (2, 0)]);
        r.add("b", Metric::CallsPerSec, "ours", 100.0);
        r.add("b", Metric::CallsPerSec, "axum", 95.0);
        r.add("b", Metric::CallsPerSec, "wss", 80.0);
        let md = r.to_markdown();
        assert!(
            md.contains("| ours | axum | wss | axum/ours | wss/ours |"),
            "{md}"
        );
        assert!(md.contains("| 100 | 95.0 | 80.0 | 0.95× | 0.80× |"), "{md}");
    }
}
