//! The scenarios, the subjects they run against, and one measurement of one against one.

use crate::client_driver::ClientArgs;
use crate::loadgen::{self, LoadSpec};
use crate::process::{self, ServerProcess};
use crate::report::Metric;
use crate::{broadcast, connect, memory};
use std::path::Path;
use std::time::Duration;

/// A server under test: a binary next to the runner.
#[derive(Debug, Clone, Copy)]
pub struct Server {
    /// Column name in the table.
    pub name: &'static str,
    /// Binary file name.
    pub binary: &'static str,
    /// Method a client calls to receive broadcasts, if the server needs one.
    pub subscribe: Option<&'static str>,
    /// Command-line arguments of the binary.
    pub args: &'static [&'static str],
}

/// Every server the runner knows, in table order. `ours` is the slot for echorpc.
pub const SERVERS: [Server; 3] = [
    Server {
        name: "jsonrpsee",
        binary: "bench-server-jsonrpsee",
        subscribe: Some("subscribe_tick"),
        args: &[],
    },
    Server {
        name: "bound",
        binary: "bench-server-bound",
        subscribe: None,
        args: &[],
    },
    Server {
        name: "ours",
        binary: "bench-server-ours",
        subscribe: None,
        args: &[],
    },
];

/// The deployment variants of echorpc (`runner --deploy`), in table order: the standalone
/// listener over `ws://`, the same server mounted as an axum route, and the standalone listener
/// over `wss://` (rustls, a certificate generated at start).
pub const DEPLOY: [Server; 3] = [
    Server {
        name: "ours",
        binary: "bench-server-ours",
        subscribe: None,
        args: &[],
    },
    Server {
        name: "axum",
        binary: "bench-server-ours",
        subscribe: None,
        args: &["--axum"],
    },
    Server {
        name: "wss",
        binary: "bench-server-ours",
        subscribe: None,
        args: &["--tls"],
    },
];

/// The scenarios of `runner --deploy`: b, c, idle memory at `mem_conns` and connect rate.
pub fn deploy_suite(mem_conns: &[usize]) -> Vec<Scenario> {
    suite(mem_conns, &[])
        .into_iter()
        .filter(|s| matches!(s.letter, 'b' | 'c' | 'e' | 'h'))
        .collect()
}

/// A client library under test (scenario g), measured against its own stack's server.
#[derive(Debug, Clone, Copy)]
pub struct ClientStack {
    /// Column name in the table; also the name of the server it talks to.
    pub name: &'static str,
    /// Binary file name.
    pub binary: &'static str,
}

/// Every client stack, in table order. `ours` is the slot for echorpc's `Client`.
pub const CLIENTS: [ClientStack; 2] = [
    ClientStack {
        name: "jsonrpsee",
        binary: "bench-client-jsonrpsee",
    },
    ClientStack {
        name: "ours",
        binary: "bench-client-ours",
    },
];

/// What a scenario does.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// Closed-loop `add` load from the raw load generator.
    Load {
        /// Connections.
        conns: usize,
        /// Requests (or batches) in flight per connection.
        inflight: usize,
        /// Calls per request frame (1, or a batch).
        batch: usize,
    },
    /// Server RSS per idle connection.
    Memory {
        /// Connections opened.
        conns: usize,
    },
    /// Time for one broadcast to reach every client.
    Broadcast {
        /// Receiving clients.
        clients: usize,
    },
    /// Connections opened (dialled, upgraded, one `add` answered) per second.
    Connect {
        /// Connections opened.
        conns: usize,
        /// Dials in progress at a time (1: one after the other).
        parallel: usize,
    },
    /// A client library's closed loop over one connection.
    Client {
        /// Calls in flight.
        inflight: usize,
    },
}

/// One scenario: a short id for `--scenarios`, a title for the table, what it does.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Letter from the issue (a–g), used by `--scenarios`.
    pub letter: char,
    /// Row title.
    pub title: String,
    /// What it does.
    pub kind: Kind,
}

impl Scenario {
    /// Whether it runs against client stacks rather than servers.
    pub fn is_client(&self) -> bool {
        matches!(self.kind, Kind::Client { .. })
    }

    /// File descriptors the runner needs for it, beyond a small base.
    pub fn fds_needed(&self) -> usize {
        match self.kind {
            Kind::Load { conns, .. } => conns,
            Kind::Memory { conns } => conns,
            Kind::Broadcast { clients } => clients + 1,
            Kind::Connect { conns, .. } => conns + 1,
            Kind::Client { .. } => 1,
        }
    }
}

/// Connections opened by each run of scenario h.
pub const CONNECT_CONNS: usize = 2_000;

/// The full suite, a–h; `mem_conns` and `bcast_clients` set the sizes of e and f.
pub fn suite(mem_conns: &[usize], bcast_clients: &[usize]) -> Vec<Scenario> {
    let load = |letter, title: &str, conns, inflight, batch| Scenario {
        letter,
        title: title.to_string(),
        kind: Kind::Load {
            conns,
            inflight,
            batch,
        },
    };
    let mut all = vec![
        load('a', "a: 1 conn × 1 in flight", 1, 1, 1),
        load('b', "b: 1 conn × 64 in flight", 1, 64, 1),
        load('c', "c: 50 conns × 8 in flight", 50, 8, 1),
        load('d', "d: batches of 10, 10 conns × 4 in flight", 10, 4, 10),
    ];
    for &conns in mem_conns {
        all.push(Scenario {
            letter: 'e',
            title: format!("e: idle memory, {conns} conns"),
            kind: Kind::Memory { conns },
        });
    }
    for &clients in bcast_clients {
        all.push(Scenario {
            letter: 'f',
            title: format!("f: broadcast to {clients} clients"),
            kind: Kind::Broadcast { clients },
        });
    }
    for inflight in [1, 64] {
        all.push(Scenario {
            letter: 'g',
            title: format!("g: client library, 1 conn × {inflight} in flight"),
            kind: Kind::Client { inflight },
        });
    }
    for parallel in [1, 50] {
        all.push(Scenario {
            letter: 'h',
            title: format!("h: connect rate, {CONNECT_CONNS} conns, {parallel} at a time"),
            kind: Kind::Connect {
                conns: CONNECT_CONNS,
                parallel,
            },
        });
    }
    all
}

/// The one tiny scenario of `--quick`.
pub fn quick() -> Scenario {
    Scenario {
        letter: 'q',
        title: "quick: 1 conn × 8 in flight".to_string(),
        kind: Kind::Load {
            conns: 1,
            inflight: 8,
            batch: 1,
        },
    }
}

/// Numbers from one measurement.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    /// Each metric with its value.
    pub values: Vec<(Metric, f64)>,
    /// Calls that failed their check.
    pub errors: u64,
    /// Calls completed in the window (0 for scenarios that do not count calls).
    pub calls: u64,
}

/// Timing of the closed-loop scenarios.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Warm-up before measuring.
    pub warmup: Duration,
    /// Measured time.
    pub duration: Duration,
}

/// Runs `scenario` once against a fresh process of `server` (found in `bin_dir`).
///
/// # Errors
/// When the server does not start or the scenario cannot complete.
pub async fn measure_server(
    scenario: &Scenario,
    server: &Server,
    bin_dir: &Path,
    timing: Timing,
) -> Result<Measured, String> {
    let proc = ServerProcess::start_with(&bin_dir.join(server.binary), server.args).await?;
    let outcome = match scenario.kind {
        Kind::Load {
            conns,
            inflight,
            batch,
        } => {
            let spec = LoadSpec {
                call: loadgen::Call::Add,
                conns,
                inflight,
                batch,
                warmup: timing.warmup,
                duration: timing.duration,
            };
            loadgen::run(&proc.url, spec).await.map(|stats| Measured {
                values: vec![
                    (Metric::CallsPerSec, stats.calls_per_sec()),
                    (Metric::P50, stats.quantile_us(0.5)),
                    (Metric::P99, stats.quantile_us(0.99)),
                    (Metric::P999, stats.quantile_us(0.999)),
                ],
                errors: stats.errors,
                calls: stats.calls,
            })
        }
        Kind::Memory { conns } => {
            memory::kib_per_conn(&proc.url, proc.pid, conns)
                .await
                .map(|kib| Measured {
                    values: vec![(Metric::KibPerConn, kib)],
                    ..Measured::default()
                })
        }
        Kind::Broadcast { clients } => broadcast::median_ms(&proc.url, clients, server.subscribe)
            .await
            .map(|ms| Measured {
                values: vec![(Metric::BroadcastMs, ms)],
                ..Measured::default()
            }),
        Kind::Connect { conns, parallel } => {
            connect::conns_per_sec(&proc.url, proc.pid, conns, parallel)
                .await
                .map(|(rate, cpu)| Measured {
                    values: vec![(Metric::ConnsPerSec, rate), (Metric::CpuUsPerConn, cpu)],
                    ..Measured::default()
                })
        }
        Kind::Client { .. } => Err("a client scenario runs against a client stack".to_string()),
    };
    proc.stop().await;
    outcome
}

/// Runs client scenario `scenario` once: a fresh server of the stack's own name, then the
/// stack's client binary against it.
///
/// # Errors
/// When either process fails or the client prints no result.
pub async fn measure_client(
    scenario: &Scenario,
    stack: &ClientStack,
    server: &Server,
    bin_dir: &Path,
    timing: Timing,
) -> Result<Measured, String> {
    let Kind::Client { inflight } = scenario.kind else {
        return Err("not a client scenario".to_string());
    };
    let proc = ServerProcess::start(&bin_dir.join(server.binary)).await?;
    let args = ClientArgs {
        url: proc.url.clone(),
        inflight,
        warmup: timing.warmup,
        duration: timing.duration,
    };
    let limit = timing.warmup + timing.duration + Duration::from_secs(30);
    let outcome = process::run_client(&bin_dir.join(stack.binary), &args.to_args(), limit).await;
    proc.stop().await;
    let line = outcome?;
    Ok(Measured {
        values: vec![
            (Metric::CallsPerSec, line.calls_per_sec()),
            (Metric::P50, line.p50_us),
            (Metric::P99, line.p99_us),
            (Metric::P999, line.p999_us),
        ],
        errors: line.errors,
        calls: line.calls,
    })
}
