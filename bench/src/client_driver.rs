//! The closed loop of the client-library binaries (scenario g), and their command line.
//!
//! A client binary parses [`ClientArgs`], connects its library's client to `--url`, and hands
//! [`run`] a function making one `add` call. [`run`] keeps `--inflight` calls outstanding (one
//! task each, sharing the client), checks every sum, and the binary prints
//! [`RunStats::result_line`] on stdout for the runner.

use crate::api::operands;
use crate::stats::RunStats;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::{Instant, timeout};

/// Longest wait for one call before it counts as an error.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Command line of a client binary:
/// `--url ws://127.0.0.1:PORT/ --inflight K --warmup-ms W --duration-ms D`.
#[derive(Debug, Clone)]
pub struct ClientArgs {
    /// Server to dial.
    pub url: String,
    /// Calls outstanding at once.
    pub inflight: usize,
    /// Time run before measuring.
    pub warmup: Duration,
    /// Time measured.
    pub duration: Duration,
}

impl ClientArgs {
    /// The arguments in the order the runner passes them.
    pub fn to_args(&self) -> Vec<String> {
        vec![
            "--url".into(),
            self.url.clone(),
            "--inflight".into(),
            self.inflight.to_string(),
            "--warmup-ms".into(),
            self.warmup.as_millis().to_string(),
            "--duration-ms".into(),
            self.duration.as_millis().to_string(),
        ]
    }

    /// Parses `args` (without the program name).
    ///
    /// # Errors
    /// On an unknown flag, a missing value, or a missing `--url`.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<ClientArgs, String> {
        let mut out = ClientArgs {
            url: String::new(),
            inflight: 1,
            warmup: Duration::from_millis(500),
            duration: Duration::from_secs(2),
        };
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let number = || {
                value
                    .parse::<u64>()
                    .map_err(|e| format!("{flag} {value}: {e}"))
            };
            match flag.as_str() {
                "--url" => out.url = value.clone(),
                "--inflight" => out.inflight = number()?.max(1) as usize,
                "--warmup-ms" => out.warmup = Duration::from_millis(number()?),
                "--duration-ms" => out.duration = Duration::from_millis(number()?),
                _ => return Err(format!("unknown flag {flag}")),
            }
        }
        if out.url.is_empty() {
            return Err("--url is required".into());
        }
        Ok(out)
    }
}

/// Runs the closed loop: `args.inflight` tasks, each calling `call(a, b)` back to back until
/// the window ends; a call is correct when it returns `Ok(a + b)`.
pub async fn run<F, Fut>(args: &ClientArgs, call: F) -> RunStats
where
    F: Fn(i64, i64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<i64, String>> + Send,
{
    let start = Instant::now();
    let from = start + args.warmup;
    let until = from + args.duration;
    let next_id = Arc::new(AtomicU64::new(1));
    let tasks: Vec<_> = (0..args.inflight)
        .map(|_| {
            let call = call.clone();
            let next_id = Arc::clone(&next_id);
            tokio::spawn(async move {
                let mut stats = RunStats::default();
                // Bounded by `until`: each call is itself bounded by CALL_TIMEOUT.
                while Instant::now() < until {
                    let id = next_id.fetch_add(1, Ordering::Relaxed);
                    let (a, b) = operands(id);
                    let sent = Instant::now();
                    let answer = timeout(CALL_TIMEOUT, call(a, b)).await;
                    let now = Instant::now();
                    match answer {
                        Ok(Ok(sum)) if sum == a + b => {
                            if now >= from && now < until {
                                stats.calls += 1;
                                stats.hist.record(now - sent);
                            }
                        }
                        _ => stats.errors += 1,
                    }
                }
                stats
            })
        })
        .collect();
    let mut total = RunStats {
        window: args.duration,
        ..RunStats::default()
    };
    for task in tasks {
        match task.await {
            Ok(stats) => total.merge(&stats),
            Err(_) => total.errors += 1,
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_round_trip() {
        let args = ClientArgs {
            url: "ws://127.0.0.1:1/".into(),
            inflight: 64,
            warmup: Duration::from_millis(250),
            duration: Duration::from_secs(3),
        };
        let parsed = ClientArgs::parse(args.to_args()).unwrap();
        assert_eq!(parsed.url, args.url);
        assert_eq!(parsed.inflight, 64);
        assert_eq!(parsed.duration, Duration::from_secs(3));
        assert!(ClientArgs::parse(["--bogus".to_string(), "1".to_string()]).is_err());
    }

    #[tokio::test]
    async fn counts_right_and_wrong_sums() {
        let args = ClientArgs {
            url: "unused".into(),
            inflight: 2,
            warmup: Duration::ZERO,
            duration: Duration::from_millis(50),
        };
        let good = run(&args, |a, b| async move {
            tokio::task::yield_now().await;
            Ok(a + b)
        })
        .await;
        assert!(good.calls > 0);
        assert_eq!(good.errors, 0);
        let bad = run(&args, |a, b| async move {
            tokio::time::sleep(Duration::from_millis(1)).await;
            Ok(a - b + 1_000_000)
        })
        .await;
        assert!(bad.errors > 0);
    }
}
