//! The JSON ping/pong heartbeat: silent peers are dropped, healthy ones stay.

use std::time::{Duration, Instant};

use echorpc_tests::*;
use futures::StreamExt;
use serde_json::json;
use tokio::net::TcpListener;

fn fast_heartbeat_server() -> echorpc::Server {
    local_server()
        .ping_interval(Duration::from_millis(100))
        .pong_timeout(Duration::from_millis(100))
        .build()
}

#[tokio::test]
async fn a_peer_that_never_answers_pings_is_dropped_within_ping_plus_pong_timeout() {
    let server = fast_heartbeat_server();
    register_add(&server);
    let (server, addr) = start(server).await;
    let mut silent = RawPeer::connect(addr, "").await;
    let started = Instant::now();
    // The silent peer receives pings but never answers; the server then closes.
    let code = silent.close_code().await;
    let took = started.elapsed();
    assert_eq!(code, Some(1001));
    assert!(
        took >= Duration::from_millis(150),
        "closed too early: {took:?}"
    );
    assert!(
        took < Duration::from_millis(1500),
        "closed too late: {took:?}"
    );
    within("connection removed", async {
        while !server.connections().is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_healthy_client_stays_connected_across_many_intervals() {
    let server = fast_heartbeat_server();
    register_add(&server);
    let (server, addr) = start(server).await;
    let client = connected(
        client_for(addr)
            .ping_interval(Duration::from_millis(100))
            .pong_timeout(Duration::from_millis(100)),
    )
    .await;
    let first = client.connection().unwrap().id();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(client.is_connected());
    assert_eq!(
        client.connection().unwrap().id(),
        first,
        "no reconnect happened"
    );
    assert_eq!(server.connections().len(), 1);
    assert_eq!(
        client
            .request("add", json!({"a": 1, "b": 1}))
            .await
            .unwrap()["sum"],
        2
    );
}

#[tokio::test]
async fn pings_are_answered_with_pongs() {
    let (_server, addr) = start(local_server().build()).await;
    let mut raw = RawPeer::connect(addr, "").await;
    let pong = raw.exchange(r#"{"jsonrpc":"2.0","method":"ping"}"#).await;
    assert_eq!(pong, json!({"jsonrpc":"2.0","method":"pong"}));
}

#[tokio::test]
async fn the_client_drops_a_server_that_never_answers_pings() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // A server that reads everything and answers nothing.
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut socket = tokio_tungstenite::accept_async(stream).await.unwrap();
        while let Some(Ok(_)) = socket.next().await {}
    });
    let client = connected(
        client_for(addr)
            .no_reconnect()
            .ping_interval(Duration::from_millis(100))
            .pong_timeout(Duration::from_millis(100)),
    )
    .await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    client.on_disconnect(move |_| {
        let _ = tx.send(());
        async {}
    });
    let started = Instant::now();
    within("disconnect", rx.recv()).await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(3000));
    assert!(!client.is_connected());
}
