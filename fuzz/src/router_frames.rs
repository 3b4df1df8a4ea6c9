//! Target `router_frames`: arbitrary text frames (single messages, batches, garbage) from a
//! raw peer into a [`Server`]'s connection over the in-memory transport.
//!
//! What each frame is owed is decided by the harness's own JSON-RPC 2.0 classifier
//! ([`crate::spec`], written from the specification and PROTOCOL.md), never by the runtime's
//! parser. The oracle then asserts:
//! - no panic, no hang;
//! - every request gets exactly one answer carrying its id exactly as sent, and the answer is
//!   the right one: `echo`/`slow`/`sleepy` return their params (`null` when absent), `add` the
//!   sum, `fail` error -32000, an unknown method (the reserved `ping`, `pong` and
//!   `$/cancelRequest` and the event `news` included) -32601, params that do not fit -32602;
//!   a registered method may instead be answered -32004 (busy) only once enough requests
//!   that may still be running were sent before it, and one whose handler may still be
//!   running -32800 (cancelled) only when a `$/cancelRequest` sent after it named its id;
//!   `back` (which calls the peer) may end either way;
//! - a frame that is not JSON gets one error -32700 with `id: null`; JSON that is no message
//!   (an empty batch, a number, an object without `method`/`result`/`error`, a bad id or
//!   `jsonrpc`, a batch longer than the limit) one error -32600 with `id: null`;
//! - a batch gets one array answer whose slots follow its requests and invalid elements in
//!   order; a batch of only notifications and responses gets nothing;
//! - notifications and responses are never answered; every `ping` notification (inside a
//!   batch too) gets exactly one `pong` notification; the server calls the peer only from
//!   `back`;
//! - or the connection closes early with a proper close code, and then whatever came was
//!   still owed;
//! - once the peer is done, no handler is left running and no call of the server's is left
//!   pending.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use echorpc::transport::{Frame, Message};
use echorpc::{AuthRequest, Connection, Error, Limits, Server};
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::answers::{Answer, Received, classify_received};
use crate::wire::{self, PROPER_CLOSE_CODES, PeerEnd};
use crate::{block_on, or_hang, spec, split_frames};

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

/// What an answer must say, apart from the busy and cancelled answers [`Due`] allows.
#[derive(Debug, Clone, PartialEq)]
enum Expected {
    /// A result equal to this value.
    Result(Value),
    /// An error with this code.
    Error(i64),
    /// Any well-formed answer (a call whose handler calls the fuzzing peer back).
    Anything,
}

/// One answer owed: to which id, and what it may say.
#[derive(Debug, Clone)]
struct Due {
    /// The id as sent (`null` for an invalid message).
    id: String,
    expected: Expected,
    /// Where it came in the messages sent (requests and notifications, batch elements one by
    /// one).
    seq: usize,
    /// Whether its handler may still be running when later messages arrive (then a later
    /// `$/cancelRequest` naming its id may cancel it).
    may_run: bool,
    /// Whether enough requests that may still be running were sent before it that the server
    /// may answer it busy.
    may_be_busy: bool,
}

impl Due {
    fn invalid(code: i64) -> Self {
        Self {
            id: "null".to_owned(),
            expected: Expected::Error(code),
            seq: 0,
            may_run: false,
            may_be_busy: false,
        }
    }

    /// Whether `answer` is an answer this due allows.
    fn admits(&self, answer: &Answer, cancelled: &BTreeMap<String, usize>) -> bool {
        if answer.id != self.id {
            return false;
        }
        match (&answer.outcome, &self.expected) {
            (Err(BUSY), _) if self.may_be_busy => true,
            (Err(CANCELLED), _)
                if self.may_run && cancelled.get(&self.id).is_some_and(|&at| at > self.seq) =>
            {
                true
            }
            (_, Expected::Anything) => true,
            (Err(code), Expected::Error(expected)) => code == expected,
            (Ok(raw), Expected::Result(expected)) => {
                serde_json::from_str::<Value>(raw).is_ok_and(|got| &got == expected)
            }
            _ => false,
        }
    }
}

/// The error the server answers when too many requests are in flight (PROTOCOL.md).
const BUSY: i64 = -32004;
/// The answer to a cancelled request (PROTOCOL.md).
const CANCELLED: i64 = -32800;
/// "Method not found".
const METHOD_NOT_FOUND: i64 = -32601;
/// "Invalid params".
const INVALID_PARAMS: i64 = -32602;

/// What the server owes for what was sent, by [`spec::classify`].
#[derive(Debug, Default)]
struct Owed {
    /// Answers owed in a frame of their own.
    singles: Vec<Due>,
    /// Batch answers: the slots of each, in order.
    batches: Vec<Vec<Due>>,
    /// `pong` notifications owed (one per `ping`).
    pongs: usize,
    /// Requests to `back`: the server may call the peer this many times.
    calls_back: usize,
    /// Raw ids named by `$/cancelRequest` notifications, with where the last one came.
    cancelled: BTreeMap<String, usize>,
    /// Messages classified so far.
    seq: usize,
    /// Requests sent so far whose handler may still be running when a later one arrives.
    may_run: usize,
}

impl Owed {
    fn add(&mut self, frame: &str) {
        match spec::classify(frame) {
            spec::Frame::Invalid(code) => self.singles.push(Due::invalid(code)),
            spec::Frame::Single(message) => {
                if let Some(due) = self.message(message) {
                    self.singles.push(due);
                }
            }
            // PROTOCOL.md "Batches" sets no limit; ours (`Limits::with_max_batch_len`) refuses
            // a longer batch as a whole, before looking at its elements: one -32600, `id:
            // null`, and none of its calls run (nor are its pings answered).
            spec::Frame::Batch(items) if items.len() > MAX_BATCH => {
                self.singles.push(Due::invalid(spec::INVALID_REQUEST));
            }
            spec::Frame::Batch(items) => {
                let slots: Vec<Due> = items
                    .into_iter()
                    .filter_map(|item| self.message(item))
                    .collect();
                if !slots.is_empty() {
                    self.batches.push(slots);
                }
            }
        }
    }

    /// What one message is owed, if anything; counts what it may cause besides.
    fn message(&mut self, message: spec::Message) -> Option<Due> {
        self.seq += 1;
        match message {
            spec::Message::Invalid => Some(Due::invalid(spec::INVALID_REQUEST)),
            spec::Message::Response => None,
            spec::Message::Notification { method, params } => {
                match method.as_str() {
                    // PROTOCOL.md "Heartbeat": any ping is answered, params or not.
                    "ping" => self.pongs += 1,
                    CANCEL_REQUEST => {
                        if let Some(params) = params {
                            let at = self.seq;
                            self.cancelled
                                .extend(ids_in(&params).into_iter().map(|id| (id, at)));
                        }
                    }
                    _ => {}
                }
                None
            }
            spec::Message::Request { id, method, params } => {
                let (expected, may_run) = expected(&method, params.as_deref());
                let registered = expected.is_some();
                let due = Due {
                    id,
                    expected: expected.unwrap_or(Expected::Error(METHOD_NOT_FOUND)),
                    seq: self.seq,
                    may_run,
                    may_be_busy: registered && self.may_run >= MAX_IN_FLIGHT,
                };
                if may_run {
                    self.may_run += 1;
                }
                if method == "back" {
                    self.calls_back += 1;
                }
                Some(due)
            }
        }
    }
}

/// What a request to `method` with `params` (raw JSON) must be answered, `None` for a method
/// the server does not have; and whether its handler may still be running when the next
/// request arrives. Typed params are decoded as serde decodes them, absent params as `null`
/// (PROTOCOL.md: -32602 when they do not fit).
fn expected(method: &str, params: Option<&str>) -> (Option<Expected>, bool) {
    let params = params.unwrap_or("null");
    let echoed = || {
        serde_json::from_str::<Value>(params).map_or(Expected::Error(INVALID_PARAMS), |value| {
            Expected::Result(as_answered(value))
        })
    };
    match method {
        "echo" => (Some(echoed()), false),
        "slow" | "sleepy" => (Some(echoed()), true),
        "add" => (
            Some(
                serde_json::from_str::<AddParams>(params)
                    .map_or(Expected::Error(INVALID_PARAMS), |p| {
                        Expected::Result(Value::from(p.a.wrapping_add(p.b)))
                    }),
            ),
            false,
        ),
        "fail" => (Some(Expected::Error(-32000)), false),
        "back" => (Some(Expected::Anything), true),
        _ => (None, false),
    }
}

/// The notification that cancels a request (PROTOCOL.md "Extensions").
const CANCEL_REQUEST: &str = "$/cancelRequest";

/// `value` as it reads back once written: what a handler returning `value` answers, read
/// back. serde_json's default number parser is not exactly rounded (its `float_roundtrip`
/// feature is off), so `11111111111111111111111e2` read once and the text written for it
/// (`1.1111111111111111e+24`) read again may differ in the last bit: compare like with like.
fn as_answered(value: Value) -> Value {
    serde_json::to_string(&value)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or(value)
}

/// Every raw `id` member (as written) of the JSON object `object`: the ids a
/// `$/cancelRequest` with these params may name. Generous on purpose when it judges the
/// fuzzing peer's cancellations (every `id` member counts, whatever its type): it only widens
/// which requests may be answered -32800.
fn ids_in(object: &str) -> Vec<String> {
    spec::members(object)
        .unwrap_or_default()
        .into_iter()
        .filter(|(name, _)| name == "id")
        .map(|(_, raw)| raw.to_owned())
        .collect()
}

/// The ids in the object member `member` of the JSON object `text`.
fn cancelled_ids(text: &str, member: &str) -> Vec<String> {
    spec::members(text)
        .unwrap_or_default()
        .into_iter()
        .filter(|(name, _)| name == member)
        .flat_map(|(_, raw)| ids_in(raw))
        .collect()
}

/// What the peer read until the connection ended.
#[derive(Debug, Default)]
struct Read {
    singles: Vec<Answer>,
    batches: Vec<Vec<Answer>>,
    pongs: usize,
    /// The ids of the server's calls to the peer.
    call_ids: BTreeSet<String>,
    /// The ids the server cancelled its calls to the peer with.
    cancels_sent: BTreeSet<String>,
    close: Option<u16>,
}

async fn exchange(frames: Vec<String>) {
    let sentinel = format!(r#"{{"jsonrpc":"2.0","id":{SENTINEL},"method":"echo"}}"#);
    let mut owed = Owed::default();
    for frame in frames.iter().chain([&sentinel]) {
        owed.add(frame);
    }
    // The input may use the sentinel's id too: the sentinel counts as answered once every
    // single answer owed to that id came.
    let sentinel_answers = owed.singles.iter().filter(|d| d.id == SENTINEL).count();

    let server = server();
    let (ours, peer) = wire::pair();
    let conn = server
        .accept(ours, AuthRequest::default())
        .await
        .expect("the server accepts");
    let PeerEnd { mut tx, rx } = peer;
    let (sentinel_tx, sentinel_rx) = tokio::sync::oneshot::channel();
    let reader = tokio::spawn(read_all(rx, sentinel_answers, sentinel_tx));

    let mut sent_all = true;
    for frame in frames.into_iter().chain([sentinel]) {
        if tx.send(Frame::from(frame)).await.is_err() {
            sent_all = false;
            break;
        }
    }

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

/// Reads every frame until the connection ends; says when the `sentinel_answers`-th answer
/// to the sentinel's id came.
async fn read_all(
    mut rx: futures::channel::mpsc::Receiver<Message>,
    sentinel_answers: usize,
    sentinel: tokio::sync::oneshot::Sender<()>,
) -> Read {
    let mut read = Read::default();
    let mut sentinel = Some(sentinel);
    let mut sentinel_seen = 0;
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
                    sentinel_seen += 1;
                    if sentinel_seen == sentinel_answers {
                        if let Some(tx) = sentinel.take() {
                            let _ = tx.send(());
                        }
                    }
                }
                read.singles.push(answer);
            }
            Received::Batch(answers) => read.batches.push(answers),
            // PROTOCOL.md "Heartbeat": `{"jsonrpc":"2.0","method":"pong"}`, a notification.
            Received::Call { method, id: None } if method.as_deref() == Some("pong") => {
                let pong: Value = serde_json::from_str(frame.as_str()).expect("JSON");
                assert_eq!(
                    pong,
                    json!({"jsonrpc": "2.0", "method": "pong"}),
                    "a malformed pong"
                );
                read.pongs += 1;
            }
            // The `back` handler's call (the server's heartbeat is off in these runs).
            Received::Call {
                method,
                id: Some(id),
            } if method.as_deref() == Some("peer") => {
                assert!(read.call_ids.insert(id), "two calls with one id: {frame:?}");
            }
            // A cancelled `back` handler stops waiting for its call to the peer, and says so
            // (PROTOCOL.md "Extensions"): once per call, naming one the server made.
            Received::Call { method, id: None } if method.as_deref() == Some(CANCEL_REQUEST) => {
                let named = cancelled_ids(frame.as_str(), "params");
                assert!(
                    matches!(named.as_slice(), [id] if read.call_ids.contains(id)),
                    "a cancellation of no call made: {frame:?}"
                );
                assert!(
                    read.cancels_sent.insert(named[0].clone()),
                    "two cancellations of one call: {frame:?}"
                );
            }
            Received::Call { method, id } => {
                panic!("the server sent an unexpected call {method:?} (id {id:?}): {frame:?}")
            }
        }
    }
    read
}

/// The size of a largest matching between `left` and `right` items, `fits(l, r)` saying
/// which may pair up (Kuhn's augmenting paths; the sets here are small).
fn max_matching(left: usize, right: usize, fits: &dyn Fn(usize, usize) -> bool) -> usize {
    fn augment(
        l: usize,
        fits: &dyn Fn(usize, usize) -> bool,
        seen: &mut [bool],
        owner: &mut [Option<usize>],
    ) -> bool {
        for r in 0..owner.len() {
            if seen[r] || !fits(l, r) {
                continue;
            }
            seen[r] = true;
            let free = match owner[r] {
                None => true,
                Some(other) => augment(other, fits, seen, owner),
            };
            if free {
                owner[r] = Some(l);
                return true;
            }
        }
        false
    }
    let mut owner = vec![None; right];
    (0..left)
        .filter(|&l| augment(l, fits, &mut vec![false; right], &mut owner))
        .count()
}

/// Panics unless what was read is what was owed: all of it when the run was `complete`,
/// otherwise (the connection closed early) a part of it, each answer owed.
fn check(owed: &Owed, read: &Read, complete: bool) {
    let cancelled = &owed.cancelled;
    let singles = max_matching(read.singles.len(), owed.singles.len(), &|l, r| {
        owed.singles[r].admits(&read.singles[l], cancelled)
    });
    assert_eq!(
        singles,
        read.singles.len(),
        "a single answer that was not owed (or owed fewer times, or with another outcome)\nread: {:.3000}\nowed: {:.3000}",
        format!("{:?}", read.singles),
        format!("{:?}", owed.singles),
    );
    let batches = max_matching(read.batches.len(), owed.batches.len(), &|l, r| {
        let (got, due) = (&read.batches[l], &owed.batches[r]);
        got.len() == due.len()
            && got
                .iter()
                .zip(due)
                .all(|(answer, due)| due.admits(answer, cancelled))
    });
    assert_eq!(
        batches,
        read.batches.len(),
        "a batch answer that was not owed (or with another outcome or order)\nread: {:.3000}\nowed: {:.3000}",
        format!("{:?}", read.batches),
        format!("{:?}", owed.batches),
    );
    assert!(
        read.call_ids.len() <= owed.calls_back,
        "{} calls to the peer for {} requests to back",
        read.call_ids.len(),
        owed.calls_back
    );
    if complete {
        assert_eq!(
            read.singles.len(),
            owed.singles.len(),
            "single answers missing\nread: {:.3000}\nowed: {:.3000}",
            format!("{:?}", read.singles),
            format!("{:?}", owed.singles),
        );
        assert_eq!(
            read.batches.len(),
            owed.batches.len(),
            "batch answers missing\nread: {:.3000}\nowed: {:.3000}",
            format!("{:?}", read.batches),
            format!("{:?}", owed.batches),
        );
        assert_eq!(read.pongs, owed.pongs, "pongs differ from pings");
    } else {
        assert!(
            read.close.is_some(),
            "the sentinel was not answered and no close came"
        );
        assert!(read.pongs <= owed.pongs, "more pongs than pings");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(id: &str, outcome: Result<&str, i64>) -> Answer {
        Answer {
            id: id.to_owned(),
            outcome: outcome.map(str::to_owned),
        }
    }

    fn owed(frames: &[&str]) -> Owed {
        let mut owed = Owed::default();
        for frame in frames {
            owed.add(frame);
        }
        owed
    }

    fn passes(owed: &Owed, read: &Read) -> bool {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(owed, read, true))).is_ok()
    }

    /// The oracle refuses what a wrong runtime would do: a request answered as a
    /// notification, a wrong result, an invalid message answered with its id, a batch out of
    /// order, a ping unanswered.
    #[test]
    fn the_oracle_refuses_wrong_answers() {
        let frames = [
            r#"{"jsonrpc":"2.0","id":null,"method":"echo","params":[1]}"#,
            r#"{"jsonrpc":"2.0","id":7,"method":"add","params":{"a":1,"b":2}}"#,
            r#"{"jsonrpc":"2.0","id":8,"method":true}"#,
            r#"[{"jsonrpc":"2.0","id":"a","method":"fail"},{"jsonrpc":"2.0","method":"ping"},{"jsonrpc":"2.0","id":"b","method":"nope"}]"#,
            "[",
        ];
        let owed = owed(&frames);
        let right = Read {
            singles: vec![
                answer("null", Ok("[1]")),
                answer("7", Ok("3")),
                answer("null", Err(-32600)),
                answer("null", Err(-32700)),
            ],
            batches: vec![vec![
                answer(r#""a""#, Err(-32000)),
                answer(r#""b""#, Err(-32601)),
            ]],
            pongs: 1,
            ..Read::default()
        };
        assert!(passes(&owed, &right));
        let wrongs: [&dyn Fn(&mut Read); 7] = [
            // The null-id request taken for a notification.
            &|r| {
                r.singles.remove(0);
            },
            &|r| r.singles[1] = answer("7", Ok("4")),
            &|r| r.singles[2] = answer("8", Err(-32600)),
            &|r| r.singles[3] = answer("null", Err(-32600)),
            &|r| r.batches[0].reverse(),
            &|r| r.pongs = 0,
            &|r| r.singles.push(answer("7", Ok("3"))),
        ];
        for (i, wrong) in wrongs.iter().enumerate() {
            let mut read = Read {
                singles: right.singles.clone(),
                batches: right.batches.clone(),
                pongs: right.pongs,
                ..Read::default()
            };
            wrong(&mut read);
            assert!(!passes(&owed, &read), "wrong answer {i} was accepted");
        }
    }

    #[test]
    fn busy_and_cancelled_only_when_allowed() {
        let slow = |id: usize| format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"slow"}}"#);
        let mut frames: Vec<String> = (0..=MAX_IN_FLIGHT).map(slow).collect();
        frames.push(r#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":0}}"#.into());
        let owed = owed(&frames.iter().map(String::as_str).collect::<Vec<_>>());
        let cancelled = &owed.cancelled;
        assert!(owed.singles[0].admits(&answer("0", Err(CANCELLED)), cancelled));
        assert!(!owed.singles[1].admits(&answer("1", Err(CANCELLED)), cancelled));
        assert!(!owed.singles[1].admits(&answer("1", Err(BUSY)), cancelled));
        assert!(
            owed.singles[MAX_IN_FLIGHT]
                .admits(&answer(&MAX_IN_FLIGHT.to_string(), Err(BUSY)), cancelled)
        );
        assert!(owed.singles[1].admits(&answer("1", Ok("null")), cancelled));
        // A cancellation sent before the request, or naming one that finished at once
        // (`echo`), cancels nothing.
        let owed = super::tests::owed(&[
            r#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":1}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"slow"}"#,
            r#"{"jsonrpc":"2.0","id":2,"method":"echo"}"#,
            r#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":2}}"#,
        ]);
        let cancelled = &owed.cancelled;
        assert!(!owed.singles[0].admits(&answer("1", Err(CANCELLED)), cancelled));
        assert!(!owed.singles[1].admits(&answer("2", Err(CANCELLED)), cancelled));
    }
}
