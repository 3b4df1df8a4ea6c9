//! The outbound queue over the in-memory transport, on tokio's paused clock: a peer that stops
//! reading is disconnected once its queue is full (broadcasts, answers, or our own events past
//! the request timeout), while peers that read are unaffected.

mod core_support;

use std::time::Duration;

use core_support::*;
use echorpc::transport::memory;
use echorpc::transport::{Frame, Message};
use echorpc::{Error, Limits, Server};
use futures::SinkExt;
use serde_json::{Value, json};

const QUEUE: usize = 8;

fn small_queue_server() -> Server {
    server_with(Limits::default().with_outbound_queue(QUEUE))
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_never_reads_is_closed_and_the_others_get_every_broadcast() {
    let server = small_queue_server();
    // Room for two unread messages: the stuck peer's writer blocks almost at once.
    let (stuck, _stuck_peer) = accept_with_capacity(&server, 2).await;
    let (healthy, mut healthy_peer) = accept(&server).await;
    let reader = tokio::spawn(async move {
        let mut ticks = Vec::new();
        while let Some(frame) = healthy_peer.next_frame().await {
            let message: Value = serde_json::from_str(frame.as_str()).unwrap();
            assert_eq!(message["method"], "tick");
            ticks.push(message["params"]["n"].as_u64().unwrap());
            if ticks.len() == 100 {
                break;
            }
        }
        // The peer stays connected: it is returned, not dropped.
        (ticks, healthy_peer)
    });

    for n in 0..100u64 {
        server.broadcast("tick", json!({ "n": n })).unwrap();
        // A reading peer drains its queue between broadcasts, as it would at any real pace.
        tokio::time::sleep(Duration::from_millis(1)).await;
    }

    within("the stuck peer to be closed", stuck.closed()).await;
    assert!(!stuck.is_open());
    until("the server to drop the stuck peer", || {
        server.connections().len() == 1
    })
    .await;
    assert!(server.connections()[0].same_as(&healthy));
    let (ticks, _healthy_peer) = within("the healthy peer's ticks", reader).await.unwrap();
    assert_eq!(ticks, (0..100).collect::<Vec<_>>(), "every tick, in order");
    assert!(healthy.is_open());
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_sends_requests_but_never_reads_answers_is_closed() {
    let server = small_queue_server();
    server
        .register("echo", |p: Value, _conn| async move { Ok::<_, Error>(p) })
        .unwrap();
    let (conn, _peer) = accept(&server).await;
    let (ours, mut theirs) = memory::pair_with_capacity(2);
    let stuck = server
        .accept(ours, echorpc::AuthRequest::default())
        .await
        .unwrap();

    // The server keeps reading (so these sends go through) until it gives up on this peer.
    let mut sent = 0;
    for i in 0..200 {
        let frame = request(i, "echo", json!(i)).to_string();
        let send = theirs.send(Message::Text(Frame::from(frame)));
        match tokio::time::timeout(Duration::from_secs(1), send).await {
            Ok(Ok(())) => sent += 1,
            _ => break,
        }
        if !stuck.is_open() {
            break;
        }
    }
    within("the peer to be closed", stuck.closed()).await;
    assert!(
        sent > QUEUE && sent < 200,
        "closed once its answers filled the queue ({sent} requests sent)"
    );
    assert!(conn.is_open(), "the other connection is unaffected");
}

#[tokio::test(start_paused = true)]
async fn publish_to_a_peer_that_never_reads_fails_after_the_request_timeout_and_closes_it() {
    let server = quiet_server()
        .request_timeout(Duration::from_secs(3))
        .limits(Limits::default().with_outbound_queue(QUEUE))
        .build();
    let (conn, _peer) = accept_with_capacity(&server, 2).await;

    let started = tokio::time::Instant::now();
    let mut failed = None;
    for n in 0..100 {
        if let Err(err) = conn.publish("tick", json!(n)).await {
            failed = Some((n, err));
            break;
        }
    }
    let (n, err) = failed.expect("publishing fails once the queue stays full");
    assert!(matches!(err, Error::NotConnected), "{err:?}");
    assert!(
        n >= QUEUE,
        "the queue takes {QUEUE} frames first (failed at {n})"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "a local publish waits for room up to the request timeout"
    );
    within("the connection to close", conn.closed()).await;
    until("the server to drop it", || server.connections().is_empty()).await;
}
