//! Our calls to the peer, over the in-memory transport on tokio's paused clock: however the
//! caller stops waiting (future dropped, per-call timeout, connection closed), the call leaves
//! the pending table, a late answer for it is dropped quietly, and later calls still work.

mod core_support;

use std::time::Duration;

use core_support::*;
use echorpc::transport::memory;
use echorpc::{Client, Connection, Error};
use serde_json::{Value, json};
use tokio::time::Instant;

/// Reads one request from the peer and returns its id and method. `$/cancelRequest`
/// notifications for calls given up on may come first; they are skipped.
async fn read_request(peer: &mut RawPeer) -> (Value, String) {
    let frame = peer.recv_skipping_cancellations().await;
    let method = frame["method"].as_str().expect("a request").to_owned();
    assert!(frame.get("id").is_some(), "a request has an id: {frame}");
    (frame["id"].clone(), method)
}

fn response(id: &Value, result: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "result": result })
}

/// A late answer is dropped quietly: nothing is sent back (a `$/cancelRequest` for the
/// abandoned call may be), the connection stays open, and a new call gets its own answer.
async fn late_answer_is_harmless(conn: &Connection, peer: &mut RawPeer, stale_id: &Value) {
    peer.send(response(stale_id, json!("late"))).await;
    let unexpected = peer.quiet_but_cancellations(Duration::from_secs(1)).await;
    assert_eq!(unexpected, None, "nothing answers a late response");
    assert!(conn.is_open());
    assert_eq!(conn.pending_calls(), 0);

    let later = tokio::spawn({
        let conn = conn.clone();
        async move { conn.request("ask", json!({ "n": 2 })).await }
    });
    let (id, method) = read_request(peer).await;
    assert_eq!(method, "ask");
    assert_ne!(&id, stale_id, "ids are not reused");
    peer.send(response(&id, json!("fresh"))).await;
    let answer = within("the later call", later).await.unwrap();
    assert_eq!(answer.unwrap(), json!("fresh"));
    assert_eq!(conn.pending_calls(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_call_leaves_the_pending_table() {
    let server = quiet_server().build();
    let (conn, mut peer) = accept(&server).await;

    let mut call = Box::pin(conn.request("ask", json!({ "n": 1 })));
    assert!(futures::poll!(call.as_mut()).is_pending());
    assert_eq!(conn.pending_calls(), 1);
    let (id, _) = read_request(&mut peer).await;
    drop(call);
    assert_eq!(conn.pending_calls(), 0);

    late_answer_is_harmless(&conn, &mut peer, &id).await;
}

#[tokio::test(start_paused = true)]
async fn a_dropped_batch_leaves_the_pending_table() {
    let server = quiet_server().build();
    let (conn, mut peer) = accept(&server).await;

    let mut batch =
        Box::pin(conn.batch_request([("ask", json!(1)), ("ask", json!(2)), ("ask", json!(3))]));
    assert!(futures::poll!(batch.as_mut()).is_pending());
    assert_eq!(conn.pending_calls(), 3);
    let sent = peer.recv().await;
    let ids: Vec<Value> = sent
        .as_array()
        .expect("one batch")
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    // One answer arrives before the caller gives up; the others after.
    peer.send(response(&ids[0], json!("first"))).await;
    until("the first answer to land", || conn.pending_calls() == 2).await;
    drop(batch);
    assert_eq!(conn.pending_calls(), 0);

    late_answer_is_harmless(&conn, &mut peer, &ids[1]).await;
}

#[tokio::test(start_paused = true)]
async fn a_call_past_its_own_timeout_fails_with_timeout_and_is_forgotten() {
    let server = quiet_server().build();
    let (conn, mut peer) = accept(&server).await;

    let started = Instant::now();
    let call = tokio::spawn({
        let conn = conn.clone();
        async move {
            conn.request_with_timeout("ask", json!(null), Duration::from_secs(5))
                .await
        }
    });
    let (id, _) = read_request(&mut peer).await;
    assert_eq!(conn.pending_calls(), 1);
    let err = within("the timeout", call).await.unwrap().unwrap_err();
    assert!(
        matches!(err, Error::Timeout(after) if after == Duration::from_secs(5)),
        "{err:?}"
    );
    assert!(started.elapsed() >= Duration::from_secs(5));
    assert_eq!(conn.pending_calls(), 0);

    late_answer_is_harmless(&conn, &mut peer, &id).await;
}

#[tokio::test(start_paused = true)]
async fn a_call_past_the_configured_request_timeout_is_forgotten() {
    let server = quiet_server()
        .request_timeout(Duration::from_secs(2))
        .build();
    let (conn, mut peer) = accept(&server).await;

    let call = tokio::spawn({
        let conn = conn.clone();
        async move { conn.request("ask", json!(null)).await }
    });
    let (id, _) = read_request(&mut peer).await;
    let err = within("the timeout", call).await.unwrap().unwrap_err();
    assert!(
        matches!(err, Error::Timeout(after) if after == Duration::from_secs(2)),
        "{err:?}"
    );
    assert_eq!(conn.pending_calls(), 0);

    late_answer_is_harmless(&conn, &mut peer, &id).await;
}

#[tokio::test(start_paused = true)]
async fn calls_waiting_when_the_connection_closes_fail_with_not_connected() {
    let server = quiet_server().build();
    let (conn, mut peer) = accept(&server).await;

    let single = tokio::spawn({
        let conn = conn.clone();
        async move { conn.request("ask", json!(1)).await }
    });
    let batch = tokio::spawn({
        let conn = conn.clone();
        async move {
            conn.batch_request([("ask", json!(2)), ("ask", json!(3))])
                .await
        }
    });
    peer.recv().await;
    peer.recv().await;
    assert_eq!(conn.pending_calls(), 3);

    // The peer goes away.
    drop(peer);
    let err = within("the single call", single)
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, Error::NotConnected), "{err:?}");
    // The batch as a whole, or each of its calls, fails with NotConnected.
    match within("the batch", batch).await.unwrap() {
        Err(err) => assert!(matches!(err, Error::NotConnected), "{err:?}"),
        Ok(slots) => {
            assert_eq!(slots.len(), 2);
            for slot in slots {
                assert!(matches!(slot, Err(Error::NotConnected)), "{slot:?}");
            }
        }
    }
    assert_eq!(conn.pending_calls(), 0);
    assert!(!conn.is_open());

    // A call on the closed connection fails at once and leaves nothing behind.
    let err = conn.request("ask", json!(4)).await.unwrap_err();
    assert!(matches!(err, Error::NotConnected), "{err:?}");
    assert_eq!(conn.pending_calls(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_client_forgets_calls_dropped_or_timed_out_too() {
    // The client end runs the same connection code; the raw peer plays the server.
    let (ours, theirs) = memory::pair();
    let client = Client::builder("memory")
        .ping_interval(Duration::ZERO)
        .no_reconnect()
        .build();
    client.connect_over(ours).await.unwrap();
    let conn = client.connection().expect("connected");
    let mut peer = RawPeer::new(theirs);

    let mut call = Box::pin(client.request("ask", json!(1)));
    assert!(futures::poll!(call.as_mut()).is_pending());
    let (dropped_id, _) = read_request(&mut peer).await;
    assert_eq!(conn.pending_calls(), 1);
    drop(call);
    assert_eq!(conn.pending_calls(), 0);

    let timed_out = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .request_with_timeout("ask", json!(2), Duration::from_millis(300))
                .await
        }
    });
    let (timed_out_id, _) = read_request(&mut peer).await;
    let err = within("the timeout", timed_out).await.unwrap().unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");
    assert_eq!(conn.pending_calls(), 0);

    peer.send(response(&dropped_id, json!("late"))).await;
    late_answer_is_harmless(&conn, &mut peer, &timed_out_id).await;
    assert!(client.is_connected());
}
