//! Graceful shutdown over real sockets: calls in flight are answered before the 1001 close,
//! calls past the deadline fail with not-connected, `on_disconnect` hooks have run when
//! `shutdown` returns, and nothing new is accepted.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use echorpc::{Error, Server};
use echorpc_tests::{RawPeer, client_for, connected, local_server, register_add, within};
use serde_json::{Value, json};

/// A server with `sleep` {ms} → "slept" and an on_disconnect counter.
async fn sleepy_server() -> (Server, std::net::SocketAddr, Arc<AtomicUsize>) {
    let server = local_server().build();
    register_add(&server);
    server
        .register("sleep", |p: Value, _| async move {
            let ms = p["ms"].as_u64().unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok::<_, Error>(json!("slept"))
        })
        .expect("register sleep");
    let disconnected = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&disconnected);
    server.on_disconnect(move |_| {
        let count = Arc::clone(&count);
        async move {
            // A hook that takes a moment: shutdown must wait for it.
            tokio::time::sleep(Duration::from_millis(50)).await;
            count.fetch_add(1, Ordering::SeqCst);
        }
    });
    let addr = server.start().await.expect("start");
    (server, addr, disconnected)
}

async fn until_in_flight(server: &Server, n: usize) {
    within("requests in flight", async {
        while server
            .connections()
            .iter()
            .map(echorpc::Connection::requests_in_flight)
            .sum::<usize>()
            < n
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_call_in_flight_is_answered_then_the_socket_closes_with_1001() {
    let (server, addr, disconnected) = sleepy_server().await;
    let mut peer = RawPeer::connect(addr, "").await;
    peer.send_text(r#"{"jsonrpc":"2.0","id":7,"method":"sleep","params":{"ms":300}}"#)
        .await;
    until_in_flight(&server, 1).await;
    let shutdown = tokio::spawn({
        let server = server.clone();
        async move { server.shutdown(Duration::from_secs(5)).await }
    });
    let answer = peer.next_json().await;
    assert_eq!(answer["id"], json!(7));
    assert_eq!(answer["result"], json!("slept"));
    assert_eq!(peer.close_code().await, Some(1001));
    within("shutdown", shutdown).await.expect("shutdown task");
    assert_eq!(
        disconnected.load(Ordering::SeqCst),
        1,
        "hook ran before shutdown returned"
    );
    assert!(server.connections().is_empty());
}

#[tokio::test]
async fn calls_past_the_deadline_fail_with_not_connected() {
    let (server, addr, disconnected) = sleepy_server().await;
    let client = connected(client_for(addr).no_reconnect()).await;
    let call = tokio::spawn({
        let client = client.clone();
        async move { client.request("sleep", json!({"ms": 30_000})).await }
    });
    until_in_flight(&server, 1).await;
    within("shutdown", server.shutdown(Duration::from_millis(200))).await;
    let outcome = within("the pending call", call).await.expect("call task");
    assert!(matches!(outcome, Err(Error::NotConnected)), "{outcome:?}");
    assert_eq!(disconnected.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_idle_connection_closes_at_once_and_nothing_new_is_accepted() {
    let (server, addr, disconnected) = sleepy_server().await;
    let mut idle = RawPeer::connect(addr, "").await;
    // Idle connections do not wait for the deadline (`within` allows far less than 30 s).
    within("shutdown", server.shutdown(Duration::from_secs(30))).await;
    assert_eq!(idle.close_code().await, Some(1001));
    assert_eq!(disconnected.load(Ordering::SeqCst), 1);
    let late = client_for(addr)
        .no_reconnect()
        .connect_timeout(Duration::from_millis(500))
        .build();
    assert!(within("late connect", late.connect()).await.is_err());
    assert!(matches!(server.start().await, Err(Error::Stopped)));
}

#[tokio::test]
async fn the_servers_own_calls_to_a_client_are_waited_for() {
    let (server, addr, _) = sleepy_server().await;
    let client = client_for(addr).no_reconnect().build();
    client
        .register("slow_echo", |p: Value, _| async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            Ok::<_, Error>(p)
        })
        .expect("register");
    within("connect", client.connect()).await.expect("connect");
    let conn = within("server side", async {
        loop {
            if let Some(conn) = server.connections().into_iter().next() {
                return conn;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let call = tokio::spawn(async move { conn.request("slow_echo", json!({"x": 1})).await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    within("shutdown", server.shutdown(Duration::from_secs(5))).await;
    let answer = within("server's call", call).await.expect("task");
    assert_eq!(answer.expect("answered before the close"), json!({"x": 1}));
}
