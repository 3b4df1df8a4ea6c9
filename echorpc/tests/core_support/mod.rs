//! Shared by the `core_*` tests: a server whose connections run over the in-memory transport,
//! a raw peer that writes JSON frames and reads what the runtime sends, gates that hold a
//! handler until the test lets it go, and drop detectors. Most tests run on tokio's paused
//! clock, so every wait below is virtual time: a hang fails in milliseconds of real time.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use echorpc::transport::memory::{self, MemoryTransport};
use echorpc::transport::{Frame, Message};
use echorpc::{AuthRequest, Connection, Limits, Server, ServerBuilder};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

/// How long one step may take (virtual time under a paused clock) before it counts as hung.
pub const STEP: Duration = Duration::from_secs(60);

/// Awaits `fut`, failing the test when it takes longer than [`STEP`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(STEP, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// A server builder with the heartbeat off, so a paused clock that jumps ahead does not make
/// pings appear in what a raw peer reads.
pub fn quiet_server() -> ServerBuilder {
    Server::builder().ping_interval(Duration::ZERO)
}

/// A quiet server with these limits.
pub fn server_with(limits: Limits) -> Server {
    quiet_server().limits(limits).build()
}

/// Serves one in-memory connection on `server`; returns its server side and the raw peer.
pub async fn accept(server: &Server) -> (Connection, RawPeer) {
    accept_with_capacity(server, memory::DEFAULT_CAPACITY).await
}

/// [`accept`] over a pair with room for `capacity` unread messages each way.
pub async fn accept_with_capacity(server: &Server, capacity: usize) -> (Connection, RawPeer) {
    let (ours, theirs) = memory::pair_with_capacity(capacity);
    let conn = within("accept", server.accept(ours, AuthRequest::default()))
        .await
        .expect("the server accepts the in-memory connection");
    (conn, RawPeer::new(theirs))
}

/// The far end of an in-memory connection, driven by hand with JSON text.
#[derive(Debug)]
pub struct RawPeer {
    end: MemoryTransport,
}

impl RawPeer {
    pub fn new(end: MemoryTransport) -> Self {
        Self { end }
    }

    /// Sends one text frame.
    pub async fn send_text(&mut self, text: &str) {
        within("raw send", self.end.send(Message::Text(Frame::from(text))))
            .await
            .expect("the runtime's end is still there");
    }

    /// Sends one JSON value as a text frame.
    pub async fn send(&mut self, value: Value) {
        self.send_text(&value.to_string()).await;
    }

    /// The next frame, or `None` once the runtime closed the connection.
    pub async fn next_frame(&mut self) -> Option<Frame> {
        match within("a frame from the runtime", self.end.next()).await {
            Some(Ok(frame)) => Some(frame),
            Some(Err(err)) => panic!("in-memory transport failed: {err}"),
            None => None,
        }
    }

    /// The next frame as JSON; panics when the connection ended instead.
    pub async fn recv(&mut self) -> Value {
        let frame = self
            .next_frame()
            .await
            .expect("a frame, not the end of the connection");
        serde_json::from_str(frame.as_str()).expect("the runtime sends JSON")
    }

    /// Sends a request and returns the next frame.
    pub async fn exchange(&mut self, request: Value) -> Value {
        self.send(request).await;
        self.recv().await
    }

    /// Whether anything arrives within `wait` (virtual time).
    pub async fn quiet_for(&mut self, wait: Duration) -> bool {
        tokio::time::timeout(wait, self.end.next()).await.is_err()
    }

    /// Whether nothing but `$/cancelRequest` notifications (sent for calls their caller gave
    /// up on) arrives within `wait` (virtual time). Returns the first other frame, if any.
    pub async fn quiet_but_cancellations(&mut self, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(next) = tokio::time::timeout_at(deadline, self.end.next()).await {
            let Some(Ok(frame)) = next else {
                return Some(Value::from("the end of the connection"));
            };
            let message: Value = serde_json::from_str(frame.as_str()).expect("JSON");
            if !is_cancellation(&message) {
                return Some(message);
            }
        }
        None
    }

    /// The next frame that is not a `$/cancelRequest` notification.
    pub async fn recv_skipping_cancellations(&mut self) -> Value {
        loop {
            let message = self.recv().await;
            if !is_cancellation(&message) {
                return message;
            }
        }
    }

    /// Sends a close, as a peer ending the connection does.
    pub async fn close(&mut self) {
        let _ = self
            .end
            .send(Message::Close(echorpc::transport::Close::NORMAL))
            .await;
    }
}

/// A request frame.
pub fn request(id: impl Into<Value>, method: &str, params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id.into(), "method": method, "params": params })
}

/// A notification (event) frame.
pub fn notification(method: &str, params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "method": method, "params": params })
}

/// Whether `message` is a `$/cancelRequest` notification.
pub fn is_cancellation(message: &Value) -> bool {
    message["method"] == "$/cancelRequest" && message.get("id").is_none()
}

/// The `error.code` of a response, if it is an error.
pub fn error_code(response: &Value) -> Option<i64> {
    response["error"]["code"].as_i64()
}

/// Holds handlers until the test lets them go, one permit per handler.
#[derive(Debug, Clone)]
pub struct Gate(Arc<Semaphore>);

impl Gate {
    pub fn new() -> Self {
        Self(Arc::new(Semaphore::new(0)))
    }

    /// Waits for one permit.
    pub async fn pass(&self) {
        self.0.acquire().await.expect("gate open").forget();
    }

    /// Lets `n` waiting (or future) handlers through.
    pub fn open(&self, n: usize) {
        self.0.add_permits(n);
    }
}

/// Counts how many of its guards were dropped.
#[derive(Debug, Clone, Default)]
pub struct DropCounter(Arc<AtomicUsize>);

/// Bumps its counter when dropped (with the future or closure that holds it).
#[derive(Debug)]
pub struct DropGuard(Arc<AtomicUsize>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl DropCounter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn guard(&self) -> DropGuard {
        DropGuard(Arc::clone(&self.0))
    }

    pub fn dropped(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    /// Waits (virtual time, bounded by `limit`) until `n` guards were dropped.
    pub async fn until_dropped(&self, n: usize, limit: Duration) -> bool {
        tokio::time::timeout(limit, async {
            while self.dropped() < n {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
        .await
        .is_ok()
    }
}

/// Waits (virtual time) until `cond` holds, polling every millisecond.
pub async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    within(what, async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
}
