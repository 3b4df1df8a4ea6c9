//! Hooks, the close handshake, and starting and stopping.

use std::time::Duration;

use echorpc::{Connection, Error};
use echorpc_tests::*;
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn server_hooks_see_each_connection_and_may_call_it() {
    let server = local_server().build();
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let tx = events_tx.clone();
    server.on_connect(move |conn: Connection| {
        let tx = tx.clone();
        async move {
            let doubled = conn.request("double", json!({"x": 4})).await.unwrap();
            tx.send(format!("up {} {doubled}", conn.meta().client_id()))
                .unwrap();
        }
    });
    server.on_disconnect(move |conn: Connection| {
        let tx = events_tx.clone();
        async move {
            tx.send(format!(
                "down {} {}",
                conn.meta().client_id(),
                conn.is_open()
            ))
            .unwrap();
        }
    });
    let (_server, addr) = start(server).await;
    let client = client_for(addr).client_id("c7").build();
    client
        .register("double", |p: Value, _| async move {
            Ok::<_, Error>(json!(p["x"].as_i64().unwrap() * 2))
        })
        .unwrap();
    within("connect", client.connect()).await.unwrap();
    assert_eq!(
        within("on_connect", events.recv()).await.unwrap(),
        "up c7 8"
    );
    client.disconnect().await;
    assert_eq!(
        within("on_disconnect", events.recv()).await.unwrap(),
        "down c7 false"
    );
}

#[tokio::test]
async fn disconnect_performs_a_close_handshake() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut socket = tokio_tungstenite::accept_async(stream).await.unwrap();
        while let Some(Ok(message)) = socket.next().await {
            if let Message::Close(frame) = message {
                seen_tx.send(frame.map(|f| u16::from(f.code))).unwrap();
            }
        }
    });
    let client = connected(client_for(addr)).await;
    within("disconnect", client.disconnect()).await;
    assert_eq!(
        within("close frame", seen.recv()).await.unwrap(),
        Some(1000)
    );
    assert!(!client.is_connected());
}

#[tokio::test]
async fn stop_closes_every_connection_with_1001_and_serve_returns() {
    let server = local_server().build();
    let (server, addr) = start(server).await;
    let serving = tokio::spawn({
        let server = server.clone();
        async move { server.serve().await }
    });
    let mut a = RawPeer::connect(addr, "").await;
    let mut b = RawPeer::connect(addr, "").await;
    within("2 connections", async {
        while server.connections().len() < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    server.stop().await;
    assert_eq!(a.close_code().await, Some(1001));
    assert_eq!(b.close_code().await, Some(1001));
    within("serve to return", serving).await.unwrap().unwrap();
    assert!(server.local_addr().is_none());
    assert!(
        server.start().await.is_err(),
        "a stopped server does not start again"
    );
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
}
