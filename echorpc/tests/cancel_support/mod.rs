//! Shared by the cancellation tests (issue 10): typed services whose handlers report when they
//! start, finish or are cancelled, a server and client over either wire (the in-memory
//! transport, or a real socket on 127.0.0.1 port 0), a raw peer that writes JSON by hand, and
//! the scenarios themselves, written once and run over both wires:
//! `echorpc/tests/cancel_memory.rs` (in-memory, on tokio's paused clock) and
//! `tests/cancel.rs` (real sockets, which includes this file by path).
//!
//! "Stopped within a few milliseconds" is checked by polling the handler's state right after
//! the cancellation, with a deadline of [`SOON`]; "eventually" waits up to [`EVENTUALLY`].
//! On the paused clock both are virtual time, which does not advance while work is pending.

#![allow(dead_code, unreachable_pub, missing_docs)]

pub mod scenarios;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use echorpc::handler::CancelGuard;
use echorpc::transport::memory::{self, MemoryTransport};
use echorpc::{AuthRequest, Client, ClientBuilder, Connection, Error, Server, ServerBuilder};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite;

/// How soon a cancelled handler must have stopped ("within a few milliseconds", with room for
/// a loaded machine).
pub const SOON: Duration = Duration::from_millis(200);

/// How long an "eventually" step may take before it counts as hung.
pub const EVENTUALLY: Duration = Duration::from_secs(10);

/// How long nothing must happen for "nothing happens" (no frame, no cancellation).
pub const QUIET: Duration = Duration::from_millis(300);

/// The per-method budget of [`Work::budgeted`].
pub const METHOD_BUDGET: Duration = Duration::from_millis(250);

/// Awaits `fut`, failing the test when it takes longer than [`EVENTUALLY`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(EVENTUALLY, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// Polls `cond` every millisecond until it holds; fails when that takes longer than `limit`.
pub async fn poll_until(what: &str, limit: Duration, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// [`poll_until`] with the deadline [`SOON`]: for what must follow a cancellation at once.
pub async fn soon(what: &str, cond: impl Fn() -> bool) {
    poll_until(what, SOON, cond).await;
}

/// [`poll_until`] with the deadline [`EVENTUALLY`].
pub async fn eventually(what: &str, cond: impl Fn() -> bool) {
    poll_until(what, EVENTUALLY, cond).await;
}

// ── Handlers that report on themselves ─────────────────────────────────────────────────────

/// What the handlers of one side did: started, running now, cancelled (their
/// [`CancelGuard`] ran), finished; and a gate that holds [`Tracker::held`] until the test
/// lets it go.
#[derive(Debug)]
pub struct Tracker {
    started: AtomicUsize,
    running: AtomicUsize,
    cancelled: AtomicUsize,
    finished: AtomicUsize,
    quick: AtomicUsize,
    gate: Semaphore,
}

impl Default for Tracker {
    fn default() -> Self {
        Self {
            started: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            cancelled: AtomicUsize::new(0),
            finished: AtomicUsize::new(0),
            quick: AtomicUsize::new(0),
            gate: Semaphore::new(0),
        }
    }
}

/// Counts itself in `running` while it lives.
struct Counted<'a>(&'a AtomicUsize);

impl<'a> Counted<'a> {
    fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(count)
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Tracker {
    pub fn started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }

    pub fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    pub fn cancelled(&self) -> usize {
        self.cancelled.load(Ordering::SeqCst)
    }

    pub fn finished(&self) -> usize {
        self.finished.load(Ordering::SeqCst)
    }

    /// How many `quick` calls ran.
    pub fn quick(&self) -> usize {
        self.quick.load(Ordering::SeqCst)
    }

    /// Lets `n` held handlers (waiting now or later) finish.
    pub fn release(&self, n: usize) {
        self.gate.add_permits(n);
    }

    /// Takes back one permit nobody used; whether there was one.
    pub fn take_back(&self) -> bool {
        self.gate.try_acquire().map(|p| p.forget()).is_ok()
    }

    /// `(started, running, cancelled, finished)`, for failure messages.
    pub fn state(&self) -> (usize, usize, usize, usize) {
        (
            self.started(),
            self.running(),
            self.cancelled(),
            self.finished(),
        )
    }

    /// Runs `work` as a tracked handler: counted as running while its future lives, as
    /// cancelled when the future is dropped before `work` finished.
    pub async fn track<T>(&self, work: impl Future<Output = T>) -> T {
        self.started.fetch_add(1, Ordering::SeqCst);
        let _running = Counted::new(&self.running);
        let cancelled = CancelGuard::new(|| {
            self.cancelled.fetch_add(1, Ordering::SeqCst);
        });
        let out = work.await;
        cancelled.disarm();
        self.finished.fetch_add(1, Ordering::SeqCst);
        out
    }

    /// Waits for the gate, then answers `tag`.
    pub async fn held(&self, tag: u64) -> u64 {
        self.track(async {
            self.gate
                .acquire()
                .await
                .expect("the gate is never closed")
                .forget();
        })
        .await;
        tag
    }
}

/// The service the server offers.
#[echorpc::service]
pub trait Work {
    /// Runs until the test releases it (or it is cancelled); answers `tag`.
    async fn hold(&self, tag: u64) -> u64;
    /// Answers `tag` at once (on its first poll).
    async fn quick(&self, tag: u64) -> u64;
    /// Sleeps `ms` milliseconds, answers `ms`; no budget of its own.
    async fn nap(&self, ms: u64) -> u64;
    /// Sleeps `ms` milliseconds, answers `ms`, within a budget of 250 ms.
    #[echorpc(timeout = "250ms")]
    async fn budgeted(&self, ms: u64) -> u64;
    /// Calls the caller's [`Back::wait`] and answers what it answered.
    async fn relay(&self, conn: &Connection, tag: u64) -> Result<u64, Error>;
}

/// The service the client offers the server.
#[echorpc::service]
pub trait Back {
    /// Runs until the test releases it (or it is cancelled); answers `tag`.
    async fn wait(&self, tag: u64) -> u64;
}

/// The server's [`Work`].
#[derive(Debug)]
pub struct WorkImpl(pub Arc<Tracker>);

impl Work for WorkImpl {
    async fn hold(&self, tag: u64) -> u64 {
        self.0.held(tag).await
    }

    async fn quick(&self, tag: u64) -> u64 {
        self.0.quick.fetch_add(1, Ordering::SeqCst);
        tag
    }

    async fn nap(&self, ms: u64) -> u64 {
        self.0
            .track(tokio::time::sleep(Duration::from_millis(ms)))
            .await;
        ms
    }

    async fn budgeted(&self, ms: u64) -> u64 {
        self.nap(ms).await
    }

    async fn relay(&self, conn: &Connection, tag: u64) -> Result<u64, Error> {
        self.0.track(BackClient::new(conn).wait(tag)).await
    }
}

/// The client's [`Back`].
#[derive(Debug)]
pub struct BackImpl(pub Arc<Tracker>);

impl Back for BackImpl {
    async fn wait(&self, tag: u64) -> u64 {
        self.0.held(tag).await
    }
}

// ── Two ends over either wire ──────────────────────────────────────────────────────────────

/// Which transport a scenario runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// `Server::connect_in_memory` / `Server::accept` over `transport::memory::pair`.
    Memory,
    /// A real WebSocket on 127.0.0.1 port 0.
    Socket,
}

/// A quiet server builder (no heartbeat, so raw peers read only what the test caused).
pub fn server() -> ServerBuilder {
    Server::builder()
        .host("127.0.0.1")
        .port(0)
        .ping_interval(Duration::ZERO)
}

/// A server with [`Work`] mounted, and a client with [`Back`] mounted, connected over a wire.
#[derive(Debug)]
pub struct Pair {
    pub server: Server,
    pub client: Client,
    /// The server's handlers.
    pub work: Arc<Tracker>,
    /// The client's handlers.
    pub back: Arc<Tracker>,
}

impl Wire {
    /// A [`Pair`] from these builders (the client's starts without a URL of its own).
    pub async fn pair(
        self,
        server: ServerBuilder,
        client: impl FnOnce(ClientBuilder) -> ClientBuilder,
    ) -> Pair {
        let server = server.build();
        let work = Arc::new(Tracker::default());
        server
            .mount(WorkServer::new(WorkImpl(Arc::clone(&work))))
            .expect("mount Work");
        let back = Arc::new(Tracker::default());
        let client = match self {
            Wire::Memory => {
                let builder = client(Client::builder("memory").ping_interval(Duration::ZERO));
                within("connect in memory", server.connect_in_memory(builder))
                    .await
                    .expect("in-memory client")
            }
            Wire::Socket => {
                let addr = within("server start", server.start())
                    .await
                    .expect("server starts");
                let builder = client(
                    Client::builder(format!("ws://{addr}"))
                        .ping_interval(Duration::ZERO)
                        .no_reconnect(),
                );
                let client = builder.build();
                within("connect", client.connect())
                    .await
                    .expect("client connects");
                client
            }
        };
        client
            .mount(BackServer::new(BackImpl(Arc::clone(&back))))
            .expect("mount Back");
        eventually("the server to see the client", || {
            server.connections().len() == 1
        })
        .await;
        Pair {
            server,
            client,
            work,
            back,
        }
    }

    /// A raw peer connected to `server` (started first when the wire is a socket), and the
    /// server's side of its connection.
    pub async fn raw(self, server: &Server) -> (Connection, RawPeer) {
        let known: Vec<Connection> = server.connections();
        let peer = match self {
            Wire::Memory => {
                let (ours, theirs) = memory::pair();
                let conn = within("accept", server.accept(ours, AuthRequest::default()))
                    .await
                    .expect("the server accepts the in-memory connection");
                return (conn, RawPeer::Memory(theirs));
            }
            Wire::Socket => {
                let addr = match server.local_addr() {
                    Some(addr) => addr,
                    None => within("server start", server.start())
                        .await
                        .expect("server starts"),
                };
                let stream = TcpStream::connect(addr).await.expect("tcp connect");
                let (socket, _) = within(
                    "raw upgrade",
                    tokio_tungstenite::client_async(format!("ws://{addr}/"), stream),
                )
                .await
                .expect("raw upgrade");
                RawPeer::Socket(Box::new(socket))
            }
        };
        let mut found = None;
        let deadline = Instant::now() + EVENTUALLY;
        while found.is_none() {
            found = server
                .connections()
                .into_iter()
                .find(|c| !known.iter().any(|k| k.same_as(c)));
            assert!(
                Instant::now() < deadline,
                "the server never saw the raw peer"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        (found.expect("found"), peer)
    }

    /// Whether this wire runs on the paused clock (then elapsed times are exact).
    pub fn paused(self) -> bool {
        self == Wire::Memory
    }
}

impl Pair {
    /// The server's side of the client's connection.
    pub fn server_conn(&self) -> Connection {
        let conns = self.server.connections();
        assert_eq!(conns.len(), 1, "one connection");
        conns.into_iter().next().expect("one connection")
    }

    /// The client still answers and is answered: a round trip each way.
    pub async fn still_healthy(&self) {
        assert!(self.client.is_connected(), "the client is still connected");
        let answer = within("quick", WorkClient::new(&self.client).quick(99)).await;
        assert_eq!(answer.expect("quick answers"), 99);
        self.back.release(1);
        let answer = within("wait", BackClient::new(self.server_conn()).wait(98)).await;
        assert_eq!(answer.expect("the client's wait answers"), 98);
    }

    pub async fn stop(self) {
        within("disconnect", self.client.disconnect()).await;
        within("stop", self.server.stop()).await;
    }
}

// ── A raw peer ─────────────────────────────────────────────────────────────────────────────

/// The far end of a connection, driven by hand with JSON text.
#[derive(Debug)]
pub enum RawPeer {
    Memory(MemoryTransport),
    Socket(Box<WebSocketStream<TcpStream>>),
}

impl RawPeer {
    /// Sends one JSON value as a text frame.
    pub async fn send(&mut self, value: Value) {
        self.send_text(&value.to_string()).await;
    }

    /// Sends one text frame.
    pub async fn send_text(&mut self, text: &str) {
        match self {
            RawPeer::Memory(end) => within(
                "raw send",
                end.send(echorpc::transport::Message::Text(
                    echorpc::transport::Frame::from(text),
                )),
            )
            .await
            .expect("the runtime's end is still there"),
            RawPeer::Socket(socket) => within(
                "raw send",
                socket.send(tungstenite::Message::text(text.to_owned())),
            )
            .await
            .expect("raw send"),
        }
    }

    /// The next JSON frame within `wait`; `None` when nothing came. Panics when the
    /// connection ended.
    pub async fn next_within(&mut self, wait: Duration) -> Option<Value> {
        let deadline = Instant::now() + wait;
        loop {
            let text = match self {
                RawPeer::Memory(end) => match tokio::time::timeout_at(deadline, end.next()).await {
                    Err(_) => return None,
                    Ok(Some(Ok(frame))) => frame.as_str().to_owned(),
                    Ok(Some(Err(err))) => panic!("in-memory transport failed: {err}"),
                    Ok(None) => panic!("the connection ended"),
                },
                RawPeer::Socket(socket) => {
                    match tokio::time::timeout_at(deadline, socket.next()).await {
                        Err(_) => return None,
                        Ok(Some(Ok(tungstenite::Message::Text(text)))) => text.as_str().to_owned(),
                        Ok(Some(Ok(tungstenite::Message::Close(close)))) => {
                            panic!("the connection closed: {close:?}")
                        }
                        Ok(Some(Ok(_))) => continue,
                        Ok(Some(Err(err))) => panic!("socket failed: {err}"),
                        Ok(None) => panic!("the connection ended"),
                    }
                }
            };
            return Some(serde_json::from_str(&text).expect("the runtime sends JSON"));
        }
    }

    /// The next JSON frame, which must come within [`SOON`]: for an answer due at once (the
    /// `-32800` of a cancellation, or the result of a handler just released).
    pub async fn recv_soon(&mut self, what: &str) -> Value {
        match self.next_within(SOON).await {
            Some(frame) => frame,
            None => panic!("no frame within {SOON:?}: {what}"),
        }
    }

    /// The next JSON frame; fails the test when none comes within [`EVENTUALLY`].
    pub async fn recv(&mut self) -> Value {
        self.next_within(EVENTUALLY)
            .await
            .expect("a frame within the time limit")
    }

    /// Sends a request and returns the next frame.
    pub async fn exchange(&mut self, request: Value) -> Value {
        self.send(request).await;
        self.recv().await
    }
}

/// A request frame.
pub fn request(id: impl Into<Value>, method: &str, params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id.into(), "method": method, "params": params })
}

/// A `$/cancelRequest` notification with these params.
pub fn cancel_with(params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "method": "$/cancelRequest", "params": params })
}

/// A `$/cancelRequest` notification for `id`.
pub fn cancel(id: impl Into<Value>) -> Value {
    cancel_with(json!({ "id": id.into() }))
}

/// The `error.code` of a response, if it is an error.
pub fn error_code(response: &Value) -> Option<i64> {
    response["error"]["code"].as_i64()
}

/// Counts answers per raw id (the id's JSON text, so `"42"` and `42` stay apart).
#[derive(Debug, Default)]
pub struct Answers(pub HashMap<String, Vec<Value>>);

impl Answers {
    /// Records one response frame (or every element of a batch reply).
    pub fn record(&mut self, frame: Value) {
        match frame {
            Value::Array(items) => items.into_iter().for_each(|item| self.record(item)),
            item => {
                assert!(
                    item.get("method").is_none(),
                    "the runtime sent a request or event, not an answer: {item}"
                );
                self.0.entry(item["id"].to_string()).or_default().push(item);
            }
        }
    }

    /// The answers to `id`.
    pub fn to(&self, id: &Value) -> &[Value] {
        self.0.get(&id.to_string()).map_or(&[], Vec::as_slice)
    }
}
