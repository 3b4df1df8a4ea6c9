//! The closed-loop load generator: C connections × K requests in flight, raw JSON-RPC.
//!
//! Each connection is one task that keeps exactly K requests (or batches) outstanding: it sends
//! K, then for every checked response sends one more until the run ends. Responses already
//! buffered are handled as one burst whose new requests are fed and flushed once. Latency and
//! calls count only inside the measurement window (after the warm-up); errors count always.

use crate::stats::RunStats;
use crate::wire::{self, Frame, PONG};
use crate::ws::{self, Ws};
use futures::{FutureExt as _, SinkExt as _, StreamExt as _};
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::{Instant, timeout_at};
use tokio_tungstenite::tungstenite::Message;

/// Most frames handled between two flushes, so one busy connection cannot starve its writes.
const MAX_BURST: usize = 256;

/// How long to wait for the last outstanding responses after the run ends.
const DRAIN: Duration = Duration::from_secs(5);

/// What each request calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// `add` {a, b} on the server (a batch of them when [`LoadSpec::batch`] > 1).
    Add,
    /// `relay` {client_id, x} on the server, which calls `double` {x} on the client of that
    /// client_id and returns its answer, `2x` (single requests only).
    Relay(&'static str),
}

/// One load shape.
#[derive(Debug, Clone, Copy)]
pub struct LoadSpec {
    /// What each request calls.
    pub call: Call,
    /// Connections.
    pub conns: usize,
    /// Requests (or batches) in flight per connection.
    pub inflight: usize,
    /// Calls per request: 1 for single requests, N for a batch array of N calls.
    pub batch: usize,
    /// Time run before measuring.
    pub warmup: Duration,
    /// Time measured.
    pub duration: Duration,
}

/// Runs `spec` against the server at `url` and returns the merged numbers.
///
/// # Errors
/// When the connections cannot be opened; wrong answers are counted, not returned.
pub async fn run(url: &str, spec: LoadSpec) -> Result<RunStats, String> {
    let conns = ws::connect_many(url, spec.conns).await?;
    let start = Instant::now();
    let window = Window {
        from: start + spec.warmup,
        until: start + spec.warmup + spec.duration,
    };
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|ws| tokio::spawn(drive(ws, spec, window)))
        .collect();
    let mut total = RunStats {
        window: spec.duration,
        ..RunStats::default()
    };
    for task in tasks {
        let stats = task.await.map_err(|e| format!("load task failed: {e}"))?;
        total.merge(&stats);
    }
    Ok(total)
}

/// The measurement window; requests stop being sent at `until`.
#[derive(Debug, Clone, Copy)]
struct Window {
    from: Instant,
    until: Instant,
}

/// One connection's loop; see the module docs.
async fn drive(mut ws: Ws, spec: LoadSpec, window: Window) -> RunStats {
    let mut stats = RunStats::default();
    let mut conn = Conn {
        next_id: 1,
        call: spec.call,
        batch: spec.batch,
        pending: HashMap::with_capacity(spec.inflight),
    };
    for _ in 0..spec.inflight {
        if conn.send(&mut ws).await.is_err() {
            stats.errors += spec.inflight as u64;
            return stats;
        }
    }
    if ws.flush().await.is_err() {
        stats.errors += spec.inflight as u64;
        return stats;
    }
    let deadline = window.until + DRAIN;
    // Bounded by `deadline`: no new request is sent after `window.until`.
    while !conn.pending.is_empty() {
        // Cancel safety: dropping `next()` on timeout loses no frame.
        let first = match timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(msg))) => msg,
            _ => break,
        };
        let mut msg = Some(first);
        let mut burst = 0;
        while let Some(m) = msg.take() {
            if conn.handle(&mut ws, m, window, &mut stats).await.is_err() {
                break;
            }
            burst += 1;
            if burst == MAX_BURST {
                break;
            }
            // What is already buffered joins this burst; nothing waits here.
            msg = match ws.next().now_or_never() {
                Some(Some(Ok(m))) => Some(m),
                _ => None,
            };
        }
        if ws.flush().await.is_err() {
            break;
        }
    }
    // Whatever is still outstanding was never answered.
    stats.errors += conn.pending.len() as u64;
    let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
    stats
}

/// Per-connection request state.
struct Conn {
    next_id: u64,
    call: Call,
    batch: usize,
    /// First id of each outstanding request or batch, with its send time.
    pending: HashMap<u64, Instant>,
}

impl Conn {
    /// Feeds (without flushing) one more request or batch.
    async fn send(&mut self, ws: &mut Ws) -> Result<(), ()> {
        let id = self.next_id;
        self.next_id += self.batch as u64;
        self.pending.insert(id, Instant::now());
        let frame = match self.call {
            Call::Add => wire::add_frame(id, self.batch),
            Call::Relay(client_id) => wire::relay_frame(id, client_id),
        };
        ws.feed(Message::text(frame)).await.map_err(|_| ())
    }

    /// Checks one incoming frame, records it, and feeds a replacement request while the run
    /// lasts. `Err` when the connection is unusable.
    async fn handle(
        &mut self,
        ws: &mut Ws,
        msg: Message,
        window: Window,
        stats: &mut RunStats,
    ) -> Result<(), ()> {
        let text = match msg {
            Message::Text(text) => text,
            Message::Close(_) => return Err(()),
            _ => return Ok(()),
        };
        let now = Instant::now();
        let (first_id, ok) = match wire::parse(&text) {
            Some(Frame::Single(msg)) if msg.is_ping() => {
                return ws.feed(Message::text(PONG)).await.map_err(|_| ());
            }
            Some(Frame::Single(msg)) if msg.is_notification() => return Ok(()),
            Some(Frame::Single(msg)) if self.batch == 1 => match msg.id_u64() {
                Some(id) => match self.call {
                    Call::Add => (id, msg.is_add_answer(id)),
                    Call::Relay(_) => (id, msg.is_relay_answer(id)),
                },
                None => (0, false),
            },
            Some(Frame::Batch(msgs)) if self.batch > 1 => {
                match msgs.first().and_then(|m| m.id_u64()) {
                    Some(first) => {
                        let ok = msgs.len() == self.batch
                            && msgs.iter().zip(first..).all(|(m, id)| m.is_add_answer(id));
                        (first, ok)
                    }
                    None => (0, false),
                }
            }
            _ => (0, false),
        };
        let Some(sent) = self.pending.remove(&first_id) else {
            // An answer to nothing we asked: counted, and nothing to replace.
            stats.errors += 1;
            return Ok(());
        };
        if !ok {
            stats.errors += 1;
        } else if now >= window.from && now < window.until {
            stats.calls += self.batch as u64;
            stats.hist.record(now - sent);
        }
        if now < window.until {
            self.send(ws).await?;
        }
        Ok(())
    }
}
