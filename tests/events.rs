//! Events both ways, in order, and broadcasts to all, a role, and all but one.

use std::time::Duration;

use echorpc::{Connection, Server};
use echorpc_tests::*;
use serde_json::{Value, json};
use tokio::sync::mpsc;

fn collect(client: &echorpc::Client, event: &str) -> mpsc::UnboundedReceiver<Value> {
    let (tx, rx) = mpsc::unbounded_channel();
    client
        .subscribe(event, move |data: Value, _| {
            let _ = tx.send(data);
            async {}
        })
        .unwrap();
    rx
}

async fn recv(rx: &mut mpsc::UnboundedReceiver<Value>) -> Value {
    within("an event", rx.recv()).await.expect("event")
}

/// Nothing more arrives for a while.
async fn quiet(rx: &mut mpsc::UnboundedReceiver<Value>) {
    // `Ok(None)`: the subscriber (and its sender) is gone, so nothing can arrive.
    let extra = tokio::time::timeout(Duration::from_millis(200), rx.recv()).await;
    assert!(
        matches!(extra, Err(_) | Ok(None)),
        "unexpected event: {extra:?}"
    );
}

#[tokio::test]
async fn client_events_reach_server_subscribers_in_order_even_when_slow() {
    let server = local_server().build();
    let (tx, mut rx) = mpsc::unbounded_channel();
    server
        .subscribe("tick", move |n: u64, _| {
            let tx = tx.clone();
            async move {
                // Earlier events take longer: order must hold anyway.
                tokio::time::sleep(Duration::from_millis(if n < 5 { 20 } else { 0 })).await;
                tx.send(n).unwrap();
            }
        })
        .unwrap();
    let (_server, addr) = start(server).await;
    let client = connected(client_for(addr)).await;
    for n in 0..200u64 {
        client.publish("tick", n).await.unwrap();
    }
    for n in 0..200u64 {
        assert_eq!(within("tick", rx.recv()).await, Some(n));
    }
}

#[tokio::test]
async fn server_publishes_to_one_connection_and_unsubscribed_events_are_dropped() {
    let server = local_server().build();
    server
        .register("emit", |p: Value, conn: Connection| async move {
            conn.publish("news", p.clone()).await?;
            conn.publish("unheard", p).await?;
            Ok::<_, echorpc::Error>(())
        })
        .unwrap();
    let (_server, addr) = start(server).await;
    let client = connected(client_for(addr)).await;
    let mut news = collect(&client, "news");
    client.request("emit", json!({"n": 1})).await.unwrap();
    assert_eq!(recv(&mut news).await, json!({"n": 1}));
    // Unsubscribing stops delivery.
    assert_eq!(client.unsubscribe_all("news"), 1);
    client.request("emit", json!({"n": 2})).await.unwrap();
    quiet(&mut news).await;
}

async fn chat_server() -> (Server, std::net::SocketAddr) {
    let server = local_server().build();
    let rebroadcast = server.clone();
    server
        .subscribe("chat", move |data: Value, from: Connection| {
            rebroadcast.broadcast_except(&from, "chat", data).unwrap();
            async {}
        })
        .unwrap();
    start(server).await
}

#[tokio::test]
async fn broadcast_to_all_to_a_role_and_to_all_but_the_sender() {
    let (server, addr) = chat_server().await;
    let web1 = connected(client_for(addr).client_id("w1")).await;
    let web2 = connected(client_for(addr).client_id("w2")).await;
    let ops = connected(client_for(addr).role("ops")).await;
    let (mut r1, mut r2, mut r3) = (
        collect(&web1, "chat"),
        collect(&web2, "chat"),
        collect(&ops, "chat"),
    );
    within("3 connections", async {
        while server.connections().len() < 3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;

    assert_eq!(server.broadcast("chat", json!({"text": "all"})).unwrap(), 3);
    for rx in [&mut r1, &mut r2, &mut r3] {
        assert_eq!(recv(rx).await, json!({"text": "all"}));
    }

    assert_eq!(
        server
            .broadcast_to_role("ops", "chat", json!({"text": "ops"}))
            .unwrap(),
        1
    );
    assert_eq!(recv(&mut r3).await, json!({"text": "ops"}));
    assert_eq!(server.connections_with_role("web").len(), 2);

    web1.publish("chat", json!({"text": "from w1"}))
        .await
        .unwrap();
    assert_eq!(recv(&mut r2).await, json!({"text": "from w1"}));
    assert_eq!(recv(&mut r3).await, json!({"text": "from w1"}));
    quiet(&mut r1).await;
    quiet(&mut r2).await;
}

#[tokio::test]
async fn a_peer_that_does_not_read_does_not_delay_a_broadcast_to_the_others() {
    let (server, addr) = chat_server().await;
    let _stuck = RawPeer::connect(addr, "").await; // never reads
    let client = connected(client_for(addr)).await;
    let mut rx = collect(&client, "chat");
    within("2 connections", async {
        while server.connections().len() < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let big = "x".repeat(64 * 1024);
    for i in 0..50 {
        server
            .broadcast("chat", json!({"i": i, "pad": big}))
            .unwrap();
    }
    for i in 0..50 {
        assert_eq!(recv(&mut rx).await["i"], i);
    }
}

#[tokio::test]
async fn an_event_is_handled_before_a_request_sent_after_it() {
    let server = local_server().build();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    server
        .subscribe("note", move |n: u64, _| {
            log.lock().unwrap().push(n);
            async {}
        })
        .unwrap();
    let log = seen.clone();
    server
        .register("count", move |_: Value, _| {
            let count = log.lock().unwrap().len();
            async move { Ok::<_, echorpc::Error>(count) }
        })
        .unwrap();
    let (_server, addr) = start(server).await;
    let client = connected(client_for(addr)).await;
    for round in 1..=50u64 {
        client.publish("note", round).await.unwrap();
        assert_eq!(client.request("count", ()).await.unwrap(), json!(round));
    }
}
