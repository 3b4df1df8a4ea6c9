//! Target `router_frames`: arbitrary text frames (single messages, batches, garbage) from a
//! raw peer into a [`Server`]'s connection over the in-memory transport.
//!
//! Invariants: no panic, no hang; every request the message parser recognises gets exactly one
//! well-formed answer carrying its id exactly as sent (inside one batch answer, in order, for a
//! batch), every invalid message one error with `id: null`, nothing else is answered; or the
//! connection closes with a proper close code. Once the peer is done, no handler is left
//! running and no call of the server's is left pending.

use std::collections::BTreeMap;
use std::time::Duration;

use echorpc::__fuzz::{FrameKind, MessageKind, classify_frame};
use echorpc::transport::{Frame, Message};
use echorpc::{AuthRequest, Connection, Error, Limits, Server};
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::Value;

use crate::answers::{Answer, Received, classify_received};
use crate::wire::{self, PROPER_CLOSE_CODES, PeerEnd};
use crate::{block_on, or_hang, split_frames};

/// The longest batch the server handles in these runs (small, so the fuzzer reaches the limit).
pub const MAX_BATCH: usize = 8;
/// Requests the server works on at once in these runs (small, to reach the busy answer).
pub const MAX_IN_FLIGHT: usize = 4;
/// The id of the last request of every run; its answer means everything before was read.
const SENTINEL: &str = r#""fuzz-sentinel""#;

/// Runs one input; panics when an invariant breaks.
pub fn run(data: &[u8]) {
    let frames = split_frames(data);
    block_on(exchange(frames));
}

#[derive(Deserialize)]
struct AddParams {
    a: i64,
    b: i64,
}

/// A server with handlers that finish at once, ones that wait, one that fails, one that calls
/// the peer back, and an event subscriber that waits.
fn server() -> Server {
    let server = Server::builder()
        .ping_interval(Duration::ZERO)
        .limits(
            Limits::default()
                .with_max_batch_len(MAX_BATCH)
                .with_max_in_flight(MAX_IN_FLIGHT),
        )
        .build();
    let register = |result: Result<(), Error>| result.expect("registration");
    register(server.register("echo", |p: Value, _| async move { Ok::<_, Error>(p) }));
    register(server.register("add", |p: AddParams, _| async move {
        Ok::<_, Error>(p.a.wrapping_add(p.b))
    }));
    register(server.register("slow", |p: Value, _| async move {
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
        Ok::<_, Error>(p)
    }));
    register(server.register("sleepy", |p: Value, _| async move {
        tokio::time::sleep(Duration::from_millis(10)).await;
        Ok::<_, Error>(p)
    }));
    register(server.register("fail", |_: Value, _| async move {
        Err::<Value, _>(Error::new(-32000, "refused"))
    }));
    register(
        server.register("back", |p: Value, conn: Connection| async move {
            conn.request_with_timeout("peer", p, Duration::from_millis(100))
                .await
        }),
    );
    server
        .subscribe("news", |_: Value, _| async move {
            tokio::task::yield_now().await;
        })
        .expect("subscription");
    server
}

/// What the server owes for what was sent.
#[derive(Debug, Default)]
struct Owed {
    /// Single answers by raw id (`null` included), with how many.
    singles: BTreeMap<String, usize>,
    /// Batch answers: the ids of each, in order.
    batches: Vec<Vec<String>>,
}

impl Owed {
    fn single(&mut self, id: &str) {
        *self.singles.entry(id.to_owned()).or_default() += 1;
    }

    fn add(&mut self, frame: &str) {
        match classify_frame(frame) {
            FrameKind::Invalid(_) => self.single("null"),
            FrameKind::Single(message) => {
                if let Some(id) = owed_id(&message) {
                    self.single(&id);
                }
            }
            FrameKind::Batch(items) if items.len() > MAX_BATCH => self.single("null"),
            FrameKind::Batch(items) => {
                let ids: Vec<String> = items.iter().filter_map(owed_id).collect();
                if !ids.is_empty() {
                    self.batches.push(ids);
                }
            }
        }
    }
}

/// The id an answer to this message carries, if it is owed one.
fn owed_id(message: &MessageKind) -> Option<String> {
    match message {
        MessageKind::Request { id, .. } => Some(id.clone()),
        MessageKind::Invalid(_) => Some("null".to_owned()),
        MessageKind::Notification { .. } | MessageKind::Response { .. } => None,
    }
}

/// What the peer read until the connection ended.
#[derive(Debug, Default)]
struct Read {
    singles: Vec<Answer>,
    batches: Vec<Vec<Answer>>,
    close: Option<u16>,
}

async fn exchange(frames: Vec<String>) {
    let server = server();
    let (ours, peer) = wire::pair();
    let conn = server
        .accept(ours, AuthRequest::default())
        .await
        .expect("the server accepts");
    let PeerEnd { mut tx, rx } = peer;
    let (sentinel_tx, sentinel_rx) = tokio::sync::oneshot::channel();
    let reader = tokio::spawn(read_all(rx, sentinel_tx));

    let mut owed = Owed::default();
    for frame in &frames {
        owed.add(frame);
        if tx.send(Frame::from(frame.as_str())).await.is_err() {
            break;
        }
    }
    let sentinel = format!(r#"{{"jsonrpc":"2.0","id":{SENTINEL},"method":"echo"}}"#);
    owed.add(&sentinel);
    let sent_all = tx.send(Frame::from(sentinel)).await.is_ok();

    // The sentinel's answer comes once every frame before it was read; then give the handlers
    // that wait (virtual) time to finish, and check nothing is left running.
    let answered = sent_all && or_hang("the sentinel's answer", sentinel_rx).await.is_ok();
    if answered {
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(conn.requests_in_flight(), 0, "handlers still running");
        assert_eq!(
            conn.pending_calls(),
            0,
            "calls back to the peer still pending"
        );
    }
    // The peer goes away; the server's side then closes.
    drop(tx);
    or_hang("the connection to close", conn.closed()).await;
    let read = or_hang("the reader", reader).await.expect("the reader");
    server.stop().await;
    check(&owed, &read, answered);
}

/// Reads every frame until the connection ends; says when the sentinel was answered.
async fn read_all(
    mut rx: futures::channel::mpsc::Receiver<Message>,
    sentinel: tokio::sync::oneshot::Sender<()>,
) -> Read {
    let mut read = Read::default();
    let mut sentinel = Some(sentinel);
    while let Some(message) = rx.next().await {
        let frame = match message {
            Message::Text(frame) => frame,
            Message::Close(close) => {
                assert!(
                    PROPER_CLOSE_CODES.contains(&close.code()),
                    "improper close: {close}"
                );
                assert!(read.close.is_none(), "two close frames");
                read.close = Some(close.code());
                continue;
            }
            other => panic!("unexpected message: {other:?}"),
        };
        assert!(read.close.is_none(), "a frame after the close frame");
        match classify_received(frame.as_str()) {
            Received::Single(answer) => {
                if answer.id == SENTINEL {
                    if let Some(tx) = sentinel.take() {
                        let _ = tx.send(());
                    }
                }
                read.singles.push(answer);
            }
            Received::Batch(answers) => read.batches.push(answers),
            Received::Call => {}
        }
    }
    read
}

fn check(owed: &Owed, read: &Read, complete: bool) {
    let mut got: BTreeMap<String, usize> = BTreeMap::new();
    for answer in &read.singles {
        *got.entry(answer.id.clone()).or_default() += 1;
    }
    let mut got_batches: Vec<Vec<String>> = read
        .batches
        .iter()
        .map(|batch| batch.iter().map(|a| a.id.clone()).collect())
        .collect();
    let mut owed_batches = owed.batches.clone();
    got_batches.sort();
    owed_batches.sort();
    if complete {
        assert_eq!(
            got, owed.singles,
            "single answers differ from what was owed"
        );
        assert_eq!(
            got_batches, owed_batches,
            "batch answers differ from what was owed"
        );
    } else {
        assert!(
            read.close.is_some(),
            "the sentinel was not answered and no close came"
        );
        // The connection closed early: whatever came must still have been owed, once.
        for (id, n) in &got {
            assert!(
                owed.singles.get(id).is_some_and(|owed| n <= owed),
                "answer to {id} not owed (or owed fewer times)"
            );
        }
        for batch in &got_batches {
            assert!(
                owed_batches.contains(batch),
                "batch answer {batch:?} not owed"
            );
        }
    }
}
