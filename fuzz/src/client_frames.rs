//! Target `client_frames`: a hostile server. A [`Client`] connected over a hand-driven
//! transport makes a few calls; once the peer has read them it sends the input's frames
//! (arbitrary responses, requests, events, batches, garbage), then answers every call
//! properly.
//!
//! Invariants: no panic, no hang; a call resolves only with a response addressed to its own
//! id: a result that some frame sent for that id, an error that some frame sent for that id,
//! or the proper answer that names the call; or it fails with not-connected or timeout. When
//! the client is done, no call is left pending and no handler is left running.

use std::collections::HashMap;
use std::time::Duration;

use echorpc::transport::{Frame, Message};
use echorpc::{Client, Error};
use futures::StreamExt;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::wire::{self, PeerEnd};
use crate::{block_on, or_hang, split_frames};

/// Calls the client makes in every run.
pub const CALLS: usize = 4;
/// The client's request timeout in these runs (virtual time).
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Runs one input; panics when an invariant breaks.
pub fn run(data: &[u8]) {
    let frames = split_frames(data);
    block_on(exchange(frames));
}

/// A response as the client could take it; unknown members ignored, a duplicate member makes
/// it no response (the runtime refuses those too).
#[derive(Deserialize)]
struct Response<'a> {
    #[serde(borrow)]
    id: &'a RawValue,
    #[serde(default, borrow)]
    method: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    result: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    error: Option<&'a RawValue>,
}

fn present<'de, D: Deserializer<'de>>(de: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(de).map(Some)
}

/// What one call may be resolved with: a raw result, or an error (`Err(())`).
type Sent = HashMap<u64, Vec<Result<String, ()>>>;

/// Records every response object a frame holds whose id is a whole number: what a call with
/// that id may be resolved with.
fn responses_in(frame: &str, sent: &mut Sent) {
    let objects: Vec<&RawValue> = match frame.trim_start().as_bytes().first() {
        Some(b'[') => serde_json::from_str(frame).unwrap_or_default(),
        _ => serde_json::from_str(frame)
            .map(|one| vec![one])
            .unwrap_or_default(),
    };
    for object in objects {
        let Ok(response) = serde_json::from_str::<Response<'_>>(object.get()) else {
            continue;
        };
        let Ok(id) = response.id.get().parse::<u64>() else {
            continue;
        };
        if response.method.is_some() {
            continue;
        }
        let outcome = match (response.result, response.error) {
            (_, Some(_)) => Err(()),
            (Some(result), None) => Ok(result.get().to_owned()),
            (None, None) => continue,
        };
        sent.entry(id).or_default().push(outcome);
    }
}

async fn exchange(frames: Vec<String>) {
    let client = Client::builder("memory")
        .no_reconnect()
        .ping_interval(Duration::ZERO)
        .request_timeout(TIMEOUT)
        .build();
    client
        .register("double", |p: Value, _| async move {
            Ok::<_, Error>(json!(p.as_i64().unwrap_or(0).wrapping_mul(2)))
        })
        .expect("register");
    client
        .subscribe("news", |_: Value, _| async move {
            tokio::task::yield_now().await;
        })
        .expect("subscribe");
    let (ours, peer) = wire::pair();
    client.connect_over(ours).await.expect("connect over");
    let conn = client.connection().expect("connected");
    let PeerEnd { mut tx, mut rx } = peer;

    let calls: Vec<_> = (0..CALLS)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move { client.request(&format!("m{i}"), json!({ "i": i })).await })
        })
        .collect();

    // Learn each call's id from its request.
    let mut ids = HashMap::new();
    while ids.len() < CALLS {
        let Some(Message::Text(frame)) = or_hang("the client's requests", rx.next()).await else {
            panic!("the client closed before sending its requests");
        };
        let request: Value = serde_json::from_str(frame.as_str()).expect("a request");
        let method = request["method"].as_str().expect("a method").to_owned();
        let id = request["id"].as_u64().expect("a numeric id");
        assert!(ids.insert(method, id).is_none(), "a call sent twice");
    }

    // Read (and drop) whatever else the client writes from now on.
    let drain = tokio::spawn(async move { while rx.next().await.is_some() {} });

    let mut sent = Sent::new();
    for frame in &frames {
        responses_in(frame, &mut sent);
        if futures::SinkExt::send(&mut tx, Frame::from(frame.as_str()))
            .await
            .is_err()
        {
            break;
        }
    }
    // The proper answers, each naming its call.
    for (method, id) in &ids {
        let answer = json!({ "jsonrpc": "2.0", "id": id, "result": { "proper": method } });
        responses_in(&answer.to_string(), &mut sent);
        let _ = futures::SinkExt::send(&mut tx, Frame::from(answer.to_string())).await;
    }

    for (i, call) in calls.into_iter().enumerate() {
        let method = format!("m{i}");
        let id = ids[&method];
        let outcome = or_hang("a call", call).await.expect("the call task");
        let allowed = sent.get(&id).map(Vec::as_slice).unwrap_or_default();
        match outcome {
            Ok(value) => {
                assert!(
                    allowed.iter().any(|a| a.as_ref().is_ok_and(
                        |raw| serde_json::from_str::<Value>(raw).ok() == Some(value.clone())
                    )),
                    "{method} (id {id}) resolved with {value}, never sent for its id"
                )
            }
            // A result sent for its id that is no `Value` (a number out of range, say).
            Err(Error::UnexpectedResult(_)) => assert!(
                allowed.iter().any(|a| a
                    .as_ref()
                    .is_ok_and(|raw| serde_json::from_str::<Value>(raw).is_err())),
                "{method} (id {id}): unexpected result never sent for its id"
            ),
            Err(Error::Rpc(_)) => assert!(
                allowed.contains(&Err(())),
                "{method} (id {id}) resolved with an error never sent for its id"
            ),
            Err(Error::NotConnected | Error::Timeout(_)) => {}
            Err(other) => panic!("{method}: unexpected failure {other:?}"),
        }
    }
    assert_eq!(
        conn.pending_calls(),
        0,
        "calls still pending after all resolved"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(conn.requests_in_flight(), 0, "handlers still running");
    drop(tx);
    or_hang("the disconnect", client.disconnect()).await;
    or_hang("the drain", drain).await.expect("the drain task");
    assert_eq!(conn.pending_calls(), 0);
    assert!(!conn.is_open());
}
