//! The heartbeat over the in-memory transport, on tokio's paused clock: a peer that never
//! answers `ping` is closed after ping interval + pong timeout, one that answers stays open,
//! and each side answers the other's `ping` with `pong`.

mod core_support;

use std::time::Duration;

use core_support::*;
use echorpc::transport::memory;
use echorpc::{Client, Server};
use serde_json::{Value, json};
use tokio::time::Instant;

const INTERVAL: Duration = Duration::from_secs(1);
const PONG_TIMEOUT: Duration = Duration::from_millis(500);

fn ping() -> Value {
    json!({ "jsonrpc": "2.0", "method": "ping" })
}

fn pong() -> Value {
    json!({ "jsonrpc": "2.0", "method": "pong" })
}

fn beating_server() -> Server {
    Server::builder()
        .ping_interval(INTERVAL)
        .pong_timeout(PONG_TIMEOUT)
        .build()
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_never_answers_pings_is_closed_after_interval_plus_pong_timeout() {
    let server = beating_server();
    let started = Instant::now();
    let (conn, mut peer) = accept(&server).await;

    assert_eq!(peer.recv().await, ping());
    assert_eq!(
        started.elapsed(),
        INTERVAL,
        "the first ping after one interval"
    );
    // No pong: the runtime closes, which ends the peer's stream.
    assert!(
        peer.next_frame().await.is_none(),
        "the connection is closed, nothing else is sent"
    );
    let closed_at = started.elapsed();
    assert!(
        closed_at >= INTERVAL + PONG_TIMEOUT && closed_at < INTERVAL + PONG_TIMEOUT + INTERVAL,
        "closed after {closed_at:?}"
    );
    within("the connection to close", conn.closed()).await;
    assert!(!conn.is_open());
    until("the server to forget the connection", || {
        server.connections().is_empty()
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_answers_pings_stays_open_for_many_intervals() {
    let server = beating_server();
    let started = Instant::now();
    let (conn, mut peer) = accept(&server).await;

    let mut pings = 0;
    let until_time = started + INTERVAL * 20 + INTERVAL / 2;
    while let Ok(frame) = tokio::time::timeout_at(until_time, peer.next_frame()).await {
        let frame = frame.expect("the connection stays open");
        let message: Value = serde_json::from_str(frame.as_str()).unwrap();
        assert_eq!(message, ping());
        pings += 1;
        peer.send(pong()).await;
    }
    assert_eq!(pings, 20);
    assert!(conn.is_open());
    assert_eq!(server.connections().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_pong_after_the_timeout_does_not_save_the_connection() {
    let server = beating_server();
    let (conn, mut peer) = accept(&server).await;
    assert_eq!(peer.recv().await, ping());
    tokio::time::sleep(PONG_TIMEOUT + Duration::from_millis(10)).await;
    within("the connection to close", conn.closed()).await;
    assert!(peer.next_frame().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn the_server_answers_the_peers_ping_with_pong() {
    let server = quiet_server().build();
    let (conn, mut peer) = accept(&server).await;
    for _ in 0..3 {
        assert_eq!(peer.exchange(ping()).await, pong());
    }
    assert!(conn.is_open());
}

#[tokio::test(start_paused = true)]
async fn a_client_answers_pings_and_drops_a_server_that_never_answers_its_own() {
    let (ours, theirs) = memory::pair();
    let client = Client::builder("memory")
        .ping_interval(INTERVAL)
        .pong_timeout(PONG_TIMEOUT)
        .no_reconnect()
        .build();
    let started = Instant::now();
    client.connect_over(ours).await.unwrap();
    let mut peer = RawPeer::new(theirs);

    // The client answers the peer's pings at once.
    assert_eq!(peer.exchange(ping()).await, pong());
    // Its own ping goes unanswered: it closes.
    assert_eq!(peer.recv().await, ping());
    assert!(peer.next_frame().await.is_none());
    assert!(started.elapsed() >= INTERVAL + PONG_TIMEOUT);
    until("the client to notice", || !client.is_connected()).await;
}
