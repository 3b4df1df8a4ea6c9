//! Soak test, run by hand: `bash bench/soak.sh [--minutes M] [--clients N]` (see bench/README.md).
//!
//! Starts the example server (`--server PATH`, built by soak.sh) on a free 127.0.0.1 port and
//! drives it for a bounded time with clients doing mixed work: calls (`add`, `whoami`, and
//! `ask_double`, which the server answers by calling the client back), events (`chat`,
//! rebroadcast to the other clients), broadcasts to a role (`announce`), and a disconnect and
//! reconnect every few dozen operations. Every `--every` seconds it samples the server's
//! resident memory and open file descriptors from /proc. It exits non-zero when memory kept
//! growing under load (the highest sample of the last third against that of the first third
//! after warm-up), when the server's memory or file descriptors once the clients left grew past
//! the warmed-up sample, when more than one call in a thousand failed, or when any answer was
//! wrong.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use echorpc::{Backoff, Client, Error};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// File descriptors the server may have gained by the end (connections mid-reconnect).
const FD_TOLERANCE: u64 = 8;
/// Failed calls allowed per thousand (a reconnect can overlap a call).
const MAX_FAILED_PER_MILLE: u64 = 1;
/// Growth of resident memory tolerated by the end, in percent of the warmed-up sample.
const RSS_TOLERANCE_PERCENT: u64 = 15;

#[derive(Debug)]
struct Options {
    server: String,
    seconds: u64,
    clients: u64,
    every: u64,
}

fn options() -> Result<Options, String> {
    let mut opts = Options {
        server: String::new(),
        seconds: 600,
        clients: 16,
        every: 10,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        let number = |text: String| {
            text.parse::<u64>()
                .map_err(|_| format!("not a number: {text}"))
        };
        match arg.as_str() {
            "--server" => opts.server = value()?,
            "--minutes" => opts.seconds = number(value()?)? * 60,
            "--seconds" => opts.seconds = number(value()?)?,
            "--clients" => opts.clients = number(value()?)?.max(1),
            "--every" => opts.every = number(value()?)?.max(1),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if opts.server.is_empty() {
        return Err("--server PATH (the example server binary) is required".into());
    }
    Ok(opts)
}

/// Counters shared by the clients.
#[derive(Debug, Default)]
struct Counters {
    calls: AtomicU64,
    failures: AtomicU64,
    wrong: AtomicU64,
    events: AtomicU64,
    reconnects: AtomicU64,
}

/// One sample of the server process.
#[derive(Debug, Clone, Copy)]
struct Sample {
    rss_kib: u64,
    fds: u64,
}

fn sample(pid: u32) -> Option<Sample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64;
    Some(Sample { rss_kib, fds })
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn client_loop(url: String, n: u64, counters: Arc<Counters>, until: Instant) {
    let client = Client::builder(url)
        .token("secret")
        .role(if n % 2 == 0 { "even" } else { "odd" })
        .client_id(format!("soak-{n}"))
        .request_timeout(Duration::from_secs(5))
        .reconnect(Backoff::new(
            Duration::from_millis(50),
            Duration::from_millis(500),
        ))
        .build();
    client
        .register("double", |p: Value, _| async move {
            Ok::<_, Error>(json!(p["x"].as_i64().unwrap_or(0) * 2))
        })
        .expect("register double");
    let events = Arc::clone(&counters);
    client
        .subscribe("chat", move |_: Value, _| {
            events.events.fetch_add(1, Ordering::Relaxed);
            async {}
        })
        .expect("subscribe chat");
    let mut op: i64 = 0;
    while Instant::now() < until {
        if !client.is_connected() && client.connect().await.is_err() {
            counters.failures.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        op += 1;
        let outcome = match op % 6 {
            0 => client
                .request("add", json!({ "a": op, "b": n }))
                .await
                .map(|v| v == json!({ "sum": op + n as i64 })),
            1 => client
                .request("whoami", json!({}))
                .await
                .map(|v| v["client_id"] == json!(format!("soak-{n}"))),
            2 => client
                .request("ask_double", json!({ "x": op }))
                .await
                .map(|v| v == json!(op * 2)),
            3 => client
                .publish("chat", json!({ "text": format!("hi {op}") }))
                .await
                .map(|()| true),
            4 => client
                .request("announce", json!({ "role": "even", "text": "news" }))
                .await
                .map(|_| true),
            _ if op % 48 == 5 => {
                client.disconnect().await;
                counters.reconnects.fetch_add(1, Ordering::Relaxed);
                Ok(true)
            }
            _ => client
                .request("add", json!({ "a": -op, "b": op }))
                .await
                .map(|v| v == json!({ "sum": 0 })),
        };
        counters.calls.fetch_add(1, Ordering::Relaxed);
        match outcome {
            Ok(true) => {}
            Ok(false) => {
                counters.wrong.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                counters.failures.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    client.disconnect().await;
}

#[tokio::main]
async fn main() {
    let opts = match options() {
        Ok(opts) => opts,
        Err(err) => {
            eprintln!("soak: {err}");
            eprintln!(
                "usage: soak --server PATH [--minutes M | --seconds S] [--clients N] [--every S]"
            );
            std::process::exit(2);
        }
    };
    let port = free_port().expect("a free port");
    let mut server = Command::new(&opts.server)
        .env("ECHORPC_PORT", port.to_string())
        .env("ECHORPC_PING_MS", "1000")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {}: {err}", opts.server));
    let pid = server.id().expect("server pid");
    let mut lines = BufReader::new(server.stdout.take().expect("stdout")).lines();
    loop {
        match lines.next_line().await {
            Ok(Some(line)) if line.contains("listening") => break,
            Ok(Some(_)) => {}
            _ => panic!("the server exited before listening"),
        }
    }
    let url = format!("ws://127.0.0.1:{port}");
    let started = Instant::now();
    let until = started + Duration::from_secs(opts.seconds);
    let counters = Arc::new(Counters::default());
    let clients: Vec<_> = (0..opts.clients)
        .map(|n| tokio::spawn(client_loop(url.clone(), n, Arc::clone(&counters), until)))
        .collect();

    println!(
        "{:>6} {:>10} {:>8} {:>6} {:>10} {:>10} {:>10} {:>5}",
        "t(s)", "ops", "failed", "wrong", "events", "reconnects", "rss(KiB)", "fds"
    );
    let mut samples = Vec::new();
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_secs(opts.every).min(until - Instant::now())).await;
        let Some(s) = sample(pid) else {
            eprintln!("soak: the server process is gone");
            std::process::exit(1);
        };
        samples.push(s);
        println!(
            "{:>6} {:>10} {:>8} {:>6} {:>10} {:>10} {:>10} {:>5}",
            started.elapsed().as_secs(),
            counters.calls.load(Ordering::Relaxed),
            counters.failures.load(Ordering::Relaxed),
            counters.wrong.load(Ordering::Relaxed),
            counters.events.load(Ordering::Relaxed),
            counters.reconnects.load(Ordering::Relaxed),
            s.rss_kib,
            s.fds
        );
    }
    for client in clients {
        client.await.expect("a client task panicked");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let end = sample(pid).expect("the server is still running");
    let _ = server.kill().await;

    // The baseline is the sample after warm-up (a tenth of the run, at least the first).
    let warm = samples.len() / 10;
    let baseline = samples[warm];
    let peak = samples.iter().map(|s| s.rss_kib).max().unwrap_or(0);
    // Under load, the highest RSS of the last third against that of the first third after the
    // warm-up: a leak keeps raising it; a steady state does not.
    let third = (samples.len() - warm).div_ceil(3);
    let early = samples[warm..warm + third]
        .iter()
        .map(|s| s.rss_kib)
        .max()
        .unwrap_or(0);
    let late = samples[samples.len() - third..]
        .iter()
        .map(|s| s.rss_kib)
        .max()
        .unwrap_or(0);
    let wrong = counters.wrong.load(Ordering::Relaxed);
    let (ops, failed) = (
        counters.calls.load(Ordering::Relaxed),
        counters.failures.load(Ordering::Relaxed),
    );
    println!(
        "baseline rss {} KiB, peak {} KiB, highest early/late under load {early}/{late} KiB, \
         after all clients left {} KiB; fds {} -> {} (clients gone)",
        baseline.rss_kib, peak, end.rss_kib, baseline.fds, end.fds
    );
    let tolerated = |kib: u64| kib * (100 + RSS_TOLERANCE_PERCENT) / 100;
    let rss_flat = late <= tolerated(early) && end.rss_kib <= tolerated(baseline.rss_kib);
    let fds_flat = end.fds <= baseline.fds + FD_TOLERANCE;
    // A call may fail when a reconnect overlaps it; more than this share is a fault.
    let failures_ok = failed * 1000 <= ops * MAX_FAILED_PER_MILLE;
    println!(
        "verdict: rss {}, fds {}, wrong answers {wrong}, failed calls {failed} of {ops} ({})",
        if rss_flat { "flat" } else { "GREW" },
        if fds_flat { "flat" } else { "GREW" },
        if failures_ok { "ok" } else { "TOO MANY" }
    );
    if !(rss_flat && fds_flat && failures_ok && wrong == 0) {
        std::process::exit(1);
    }
}
