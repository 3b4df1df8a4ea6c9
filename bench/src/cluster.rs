//! The cluster scenarios (runner `--cluster`): two echorpc nodes sharing a real `redis-server`,
//! measured beside one node on its own.
//!
//! - **broadcast**: N receiving clients; a trigger on the first node calls `broadcast`; the time
//!   until the last client has read the event (see [`broadcast`](crate::broadcast)). Columns:
//!   one plain node with every client, the first cluster node with every client, and the
//!   clients spread evenly over both cluster nodes.
//! - **relay**: callers on the first node call `relay` {client_id, x}; the server calls
//!   `double` on the client of that client_id and returns its answer. The client is a raw
//!   connection that answers every `double` at once. Columns: one plain node, the client on
//!   the callers' node of the cluster, the client on the other node (so every call crosses
//!   Redis twice: the request to its node, the answer back).

use crate::broadcast;
use crate::loadgen::{self, Call, LoadSpec};
use crate::process::ServerProcess;
use crate::report::{Metric, Results};
use crate::scenarios::Timing;
use crate::stats::RunStats;
use crate::wire::{self, Frame, PONG};
use crate::ws::{self, Ws};
use futures::{SinkExt as _, StreamExt as _};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

/// The table's columns.
pub const COLUMNS: [&str; 3] = ["single node", "cluster: same node", "cluster: across nodes"];
/// Ratios printed: across nodes over one plain node, and over the same cluster node.
pub const RATIOS: [(usize, usize); 2] = [(2, 0), (2, 1)];

/// Connections calling `relay`, and calls each keeps in flight.
const RELAY_CONNS: usize = 8;
const RELAY_INFLIGHT: usize = 8;

/// Longest wait for `redis-server` to accept connections.
const REDIS_START: Duration = Duration::from_secs(10);

/// The server binary every node runs.
const SERVER_BINARY: &str = "bench-server-ours";

/// A `redis-server` of its own on a free loopback port; killed on drop.
#[derive(Debug)]
pub struct Redis {
    _child: Child,
    /// `redis://127.0.0.1:PORT`.
    pub url: String,
}

impl Redis {
    /// Starts `redis-server` without persistence and waits until it accepts connections.
    ///
    /// # Errors
    /// When `redis-server` is not installed, exits, or does not listen within 10 s.
    pub async fn start() -> Result<Redis, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("free port: {e}"))?
            .port();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("start redis-server (is it installed?): {e}"))?;
        let deadline = tokio::time::Instant::now() + REDIS_START;
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if tokio::time::Instant::now() > deadline {
                return Err(format!(
                    "redis-server did not listen on port {port} in time"
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(Redis {
            _child: child,
            url: format!("redis://127.0.0.1:{port}"),
        })
    }
}

/// Two cluster nodes over one Redis, plus one plain node, all started from `bin_dir`.
struct Nodes {
    _redis: Redis,
    plain: ServerProcess,
    first: ServerProcess,
    second: ServerProcess,
}

impl Nodes {
    async fn start(bin_dir: &Path) -> Result<Nodes, String> {
        let binary = bin_dir.join(SERVER_BINARY);
        let redis = Redis::start().await?;
        let node = |name: &'static str| {
            let binary = binary.clone();
            let url = redis.url.clone();
            async move { ServerProcess::start_with(&binary, &["--cluster", &url, name]).await }
        };
        Ok(Nodes {
            plain: ServerProcess::start(&binary).await?,
            first: node("a").await?,
            second: node("b").await?,
            _redis: redis,
        })
    }
}

/// One round of every cluster scenario, recorded into `results`; returns how many relayed
/// calls failed or were answered wrongly.
///
/// # Errors
/// When Redis or a node cannot be started, or a scenario fails outright.
pub async fn measure(
    bin_dir: &Path,
    clients: usize,
    timing: Timing,
    results: &mut Results,
) -> Result<u64, String> {
    let mut errors = 0;
    let nodes = Nodes::start(bin_dir).await?;
    let (plain, first, second) = (&nodes.plain.url, &nodes.first.url, &nodes.second.url);

    let title = format!("broadcast to {clients} clients");
    for (column, urls) in [
        (COLUMNS[0], vec![plain.as_str()]),
        (COLUMNS[1], vec![first.as_str()]),
        (COLUMNS[2], vec![first.as_str(), second.as_str()]),
    ] {
        let ms = broadcast::median_ms_spread(&urls, clients, None).await?;
        results.add(&title, Metric::BroadcastMs, column, ms);
    }

    let title = format!("relay to a client, {RELAY_CONNS} conns × {RELAY_INFLIGHT} in flight");
    for (column, callers, target) in [
        (COLUMNS[0], plain, plain),
        (COLUMNS[1], first, first),
        (COLUMNS[2], first, second),
    ] {
        let stats = relay(callers, target, timing).await?;
        if stats.errors > 0 {
            results.note(format!("{title}, {column}: {} errors", stats.errors));
            errors += stats.errors;
        }
        results.add(&title, Metric::CallsPerSec, column, stats.calls_per_sec());
        results.add(&title, Metric::P50, column, stats.quantile_us(0.5));
        results.add(&title, Metric::P99, column, stats.quantile_us(0.99));
    }
    Ok(errors)
}

/// Callers on `callers` relaying to a client connected to `target`.
async fn relay(callers: &str, target: &str, timing: Timing) -> Result<RunStats, String> {
    const CLIENT_ID: &str = "bench-responder";
    let responder = responder(target, CLIENT_ID).await?;
    // The client's entry reaches the cluster's directory asynchronously: wait until a relay
    // finds it, so the measurement starts with a reachable client.
    let mut probe = ws::connect(callers).await?;
    let mut reachable = false;
    for id in 1..=100 {
        let text = ws::call(
            &mut probe,
            id,
            "relay",
            Some(&format!(r#"{{"client_id":"{CLIENT_ID}","x":{id}}}"#)),
        )
        .await?;
        if matches!(wire::parse(&text), Some(Frame::Single(msg)) if msg.is_relay_answer(id)) {
            reachable = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ws::close_all(vec![probe]).await;
    if !reachable {
        responder.abort();
        return Err(format!(
            "the client on {target} never became reachable from {callers}"
        ));
    }
    let spec = LoadSpec {
        call: Call::Relay(CLIENT_ID),
        conns: RELAY_CONNS,
        inflight: RELAY_INFLIGHT,
        batch: 1,
        warmup: timing.warmup,
        duration: timing.duration,
    };
    let stats = loadgen::run(callers, spec).await;
    responder.abort();
    stats
}

/// A raw client with `client_id` on the server at `url` that answers every `double` request
/// {"x": x} with `2x` and every ping with a pong, until aborted.
async fn responder(url: &str, client_id: &str) -> Result<JoinHandle<()>, String> {
    let separator = if url.contains('?') { '&' } else { '?' };
    let mut ws: Ws = ws::connect(&format!("{url}{separator}client_id={client_id}")).await?;
    Ok(tokio::spawn(async move {
        while let Some(Ok(message)) = ws.next().await {
            let Message::Text(text) = message else {
                continue;
            };
            let reply = match wire::parse(&text) {
                Some(Frame::Single(msg)) if msg.is_ping() => PONG.to_string(),
                Some(Frame::Single(msg)) => match msg.as_double_request() {
                    Some((id, x)) => wire::double_answer(id, x),
                    None => continue,
                },
                _ => continue,
            };
            if ws.send(Message::text(reply)).await.is_err() {
                return;
            }
        }
    }))
}
