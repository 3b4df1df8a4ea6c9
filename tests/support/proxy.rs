//! A fault-injecting TCP proxy for the fault tests: it sits between a real client and a real
//! server on 127.0.0.1 and, on command, delays traffic, splits it into tiny TCP segments, cuts
//! a connection in the middle of a frame, or swallows everything without closing (so only a
//! heartbeat can notice). Used with `#[path]` by the `fault_*` tests.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// What the proxy does to the bytes it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward as read.
    Pass,
    /// Hold every chunk this long before forwarding it.
    Delay(Duration),
    /// Forward every chunk in pieces of this many bytes, one TCP segment each.
    Split(usize),
    /// Forward the first half of the next chunk (either direction), cut that connection, and
    /// go back to [`Fault::Pass`].
    CutMidFrame,
}

/// A running proxy; dropping it stops it and cuts every connection.
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    fault: Arc<watch::Sender<Fault>>,
    /// Bumped by [`black_hole`](Self::black_hole): connections older than this swallow all.
    black_hole_before: Arc<AtomicU64>,
    cuts: Arc<AtomicU64>,
    tasks: Arc<Mutex<JoinSet<()>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.kill_connections();
    }
}

impl Proxy {
    /// A proxy on 127.0.0.1 (port 0) to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy bind");
        let addr = listener.local_addr().expect("proxy addr");
        let fault = Arc::new(watch::Sender::new(Fault::Pass));
        let black_hole_before = Arc::new(AtomicU64::new(0));
        let cuts = Arc::new(AtomicU64::new(0));
        let tasks = Arc::new(Mutex::new(JoinSet::new()));
        let accept = tokio::spawn(accept_loop(
            listener,
            upstream,
            Arc::clone(&fault),
            Arc::clone(&black_hole_before),
            Arc::clone(&cuts),
            Arc::clone(&tasks),
        ));
        Self {
            addr,
            fault,
            black_hole_before,
            cuts,
            tasks,
            accept,
        }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Applies `fault` from now on (to open connections too).
    pub fn set(&self, fault: Fault) {
        self.fault.send_replace(fault);
    }

    /// Connections cut by [`Fault::CutMidFrame`] so far.
    pub fn cuts(&self) -> u64 {
        self.cuts.load(Ordering::SeqCst)
    }

    /// Every connection open now swallows everything from here on, without closing.
    pub fn black_hole(&self) {
        self.black_hole_before
            .store(next_conn_number(), Ordering::SeqCst);
    }

    /// Drops every open connection at once (both sockets close).
    pub fn kill_connections(&self) {
        self.tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .abort_all();
    }
}

static CONN_NUMBER: AtomicU64 = AtomicU64::new(1);

fn next_conn_number() -> u64 {
    CONN_NUMBER.fetch_add(1, Ordering::SeqCst)
}

async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    fault: Arc<watch::Sender<Fault>>,
    black_hole_before: Arc<AtomicU64>,
    cuts: Arc<AtomicU64>,
    tasks: Arc<Mutex<JoinSet<()>>>,
) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        let number = next_conn_number();
        let fault = Arc::clone(&fault);
        let black_hole_before = Arc::clone(&black_hole_before);
        let cuts = Arc::clone(&cuts);
        let mut set = tasks.lock().unwrap_or_else(PoisonError::into_inner);
        // Reap finished connections so the set stays small.
        while set.try_join_next().is_some() {}
        set.spawn(async move {
            // The server is down: the client sees its connection closed.
            let Ok(server) = TcpStream::connect(upstream).await else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            let link = Link {
                number,
                fault,
                black_hole_before,
                cuts,
            };
            // Either direction ending (or cutting) ends the connection: both sockets drop.
            tokio::select! {
                () = pump(client_read, server_write, link.clone()) => {}
                () = pump(server_read, client_write, link) => {}
            }
        });
    }
}

#[derive(Clone)]
struct Link {
    number: u64,
    fault: Arc<watch::Sender<Fault>>,
    black_hole_before: Arc<AtomicU64>,
    cuts: Arc<AtomicU64>,
}

async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, link: Link) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let chunk = &buf[..n];
        if link.number < link.black_hole_before.load(Ordering::SeqCst) {
            // Swallowed: keep reading so the sender never notices back-pressure either.
            continue;
        }
        let fault = *link.fault.borrow();
        let written = match fault {
            Fault::Pass => to.write_all(chunk).await,
            Fault::Delay(delay) => {
                tokio::time::sleep(delay).await;
                to.write_all(chunk).await
            }
            Fault::Split(size) => {
                let mut result = Ok(());
                for piece in chunk.chunks(size.max(1)) {
                    result = to.write_all(piece).await;
                    if result.is_err() {
                        break;
                    }
                    let _ = to.flush().await;
                    tokio::task::yield_now().await;
                }
                result
            }
            Fault::CutMidFrame => {
                let _ = to.write_all(&chunk[..n / 2]).await;
                let _ = to.flush().await;
                link.cuts.fetch_add(1, Ordering::SeqCst);
                link.fault.send_if_modified(|now| {
                    let cut = *now == Fault::CutMidFrame;
                    if cut {
                        *now = Fault::Pass;
                    }
                    cut
                });
                return;
            }
        };
        if written.is_err() {
            return;
        }
    }
}

/// How calls under load ended.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    /// Answered with the right sum.
    pub ok: usize,
    /// Failed with the not-connected error.
    pub not_connected: usize,
    /// Failed with the timeout error.
    pub timeouts: usize,
}

/// Concurrent calls of `add` until stopped; every answer is checked against its own call.
#[derive(Debug)]
pub struct Load {
    stop: watch::Sender<bool>,
    workers: Vec<tokio::task::JoinHandle<Tally>>,
}

/// How much later than its timeout a failed call may return.
pub const SLACK: Duration = Duration::from_millis(500);

impl Load {
    /// `workers` tasks calling `add {a: worker, b: k}` in a loop through `client`, each call
    /// with `timeout`. A wrong or duplicated answer, another error, or a call that takes longer
    /// than its timeout panics the worker (and so the test, at [`stop`](Self::stop)).
    pub fn start(client: &echorpc::Client, workers: i64, timeout: Duration) -> Self {
        let (stop, _) = watch::channel(false);
        let workers = (0..workers)
            .map(|worker| {
                let client = client.clone();
                let stop = stop.subscribe();
                tokio::spawn(async move {
                    let mut tally = Tally::default();
                    let mut k: i64 = 0;
                    while !*stop.borrow() {
                        k += 1;
                        let (a, b) = (worker * 1_000_000, k);
                        let started = tokio::time::Instant::now();
                        let params = serde_json::json!({ "a": a, "b": b });
                        let outcome = client.request_with_timeout("add", params, timeout).await;
                        let took = started.elapsed();
                        assert!(took <= timeout + SLACK, "a call took {took:?}: {outcome:?}");
                        match outcome {
                            Ok(sum) => {
                                assert_eq!(
                                    sum,
                                    serde_json::json!({ "sum": a + b }),
                                    "mismatched answer"
                                );
                                tally.ok += 1;
                            }
                            Err(echorpc::Error::NotConnected) => {
                                tally.not_connected += 1;
                                tokio::time::sleep(Duration::from_millis(10)).await;
                            }
                            Err(echorpc::Error::Timeout(_)) => tally.timeouts += 1,
                            Err(other) => panic!("a call failed with {other:?}"),
                        }
                    }
                    tally
                })
            })
            .collect();
        Self { stop, workers }
    }

    /// Stops the workers and adds up their tallies.
    pub async fn stop(self) -> Tally {
        self.stop.send_replace(true);
        let mut total = Tally::default();
        for worker in self.workers {
            let tally = worker.await.expect("a load worker panicked");
            total.ok += tally.ok;
            total.not_connected += tally.not_connected;
            total.timeouts += tally.timeouts;
        }
        total
    }
}

/// Waits (up to `limit`) until `client` answers a call again.
pub async fn answers_again(client: &echorpc::Client, limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let call = client.request_with_timeout(
            "add",
            serde_json::json!({ "a": 40, "b": 2 }),
            Duration::from_millis(500),
        );
        if let Ok(sum) = call.await {
            assert_eq!(sum, serde_json::json!({ "sum": 42 }));
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the client did not answer again within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
