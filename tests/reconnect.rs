//! Reconnecting after the server restarts, keeping commands and subscriptions.

use std::time::Duration;

use echorpc::{Client, Connection, Error, Server};
use echorpc_tests::*;
use serde_json::{Value, json};

fn restartable_server(port: u16) -> Server {
    let server = Server::builder().host("127.0.0.1").port(port).build();
    server
        .register("ask_double", |p: Value, conn: Connection| async move {
            conn.request("double", p).await
        })
        .unwrap();
    register_add(&server);
    server
}

#[tokio::test]
async fn the_client_reconnects_and_keeps_its_commands_and_subscriptions() {
    let first = restartable_server(0);
    let addr = first.start().await.unwrap();
    let client = client_for(addr).build();
    client
        .register("double", |p: Value, _| async move {
            Ok::<_, Error>(json!(p["x"].as_i64().unwrap() * 2))
        })
        .unwrap();
    let (news_tx, mut news) = tokio::sync::mpsc::unbounded_channel();
    client
        .subscribe("news", move |v: Value, _| {
            let _ = news_tx.send(v);
            async {}
        })
        .unwrap();
    let (up_tx, mut ups) = tokio::sync::mpsc::unbounded_channel();
    client.on_connect(move |_| {
        let _ = up_tx.send("up");
        async {}
    });
    let (down_tx, mut downs) = tokio::sync::mpsc::unbounded_channel();
    client.on_disconnect(move |_| {
        let _ = down_tx.send("down");
        async {}
    });
    within("connect", client.connect()).await.unwrap();
    within("on_connect", ups.recv()).await.unwrap();

    first.stop().await;
    within("on_disconnect", downs.recv()).await.unwrap();
    assert!(!client.is_connected());
    let err = client
        .request("add", json!({"a": 1, "b": 1}))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(echorpc::ErrorCode::NOT_CONNECTED));

    // Same port, new server process state: the client finds it again by itself.
    let second = restartable_server(addr.port());
    second.start().await.unwrap();
    within("reconnect", ups.recv()).await.unwrap();
    assert!(client.is_connected());
    assert_eq!(
        client.request("ask_double", json!({"x": 5})).await.unwrap(),
        json!(10),
        "the client's command survived"
    );
    second.broadcast("news", json!("still subscribed")).unwrap();
    assert_eq!(
        within("news", news.recv()).await.unwrap(),
        json!("still subscribed")
    );

    // An intentional disconnect does not reconnect.
    client.disconnect().await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!client.is_connected());
    assert!(second.connections().is_empty());
    second.stop().await;
}

#[tokio::test]
async fn connect_retries_until_the_server_appears() {
    // Reserve a port, free it, and start the server there only after the client began trying.
    let probe = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = probe.local_addr().unwrap();
    drop(probe);
    let client = client_for(addr)
        .connect_timeout(Duration::from_secs(4))
        .build();
    let connecting = tokio::spawn({
        let client = client.clone();
        async move { client.connect().await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let server = restartable_server(addr.port());
    server.start().await.unwrap();
    within("connect", connecting).await.unwrap().unwrap();
    assert!(client.is_connected());
}

#[tokio::test]
async fn connect_fails_with_32001_when_nobody_listens() {
    let probe = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = probe.local_addr().unwrap();
    drop(probe);
    let err = client_for(addr)
        .no_reconnect()
        .build()
        .connect()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(echorpc::ErrorCode::NOT_CONNECTED));
    let started = std::time::Instant::now();
    let err = client_for(addr)
        .connect_timeout(Duration::from_millis(400))
        .build()
        .connect()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(echorpc::ErrorCode::NOT_CONNECTED));
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn an_explicit_connect_while_reconnecting_takes_over_without_a_second_connection() {
    let first = restartable_server(0);
    let addr = first.start().await.unwrap();
    // Slow backoff: the client is still waiting to reconnect when `connect` is called.
    let client = Client::builder(url(addr))
        .reconnect(echorpc::Backoff::new(
            Duration::from_secs(2),
            Duration::from_secs(2),
        ))
        .build();
    within("connect", client.connect()).await.unwrap();
    first.stop().await;
    within("drop noticed", async {
        while client.is_connected() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let second = restartable_server(addr.port());
    second.start().await.unwrap();
    within("explicit connect", client.connect()).await.unwrap();
    // Past the supervisor's own retry time: still exactly one connection.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(second.connections().len(), 1);
    assert!(client.is_connected());
    client.disconnect().await;
}

/// A free port nothing listens on (bound, then released).
async fn dead_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn a_client_with_several_urls_moves_to_the_next_one_when_its_server_goes() {
    let nowhere = dead_port().await;
    let (second, second_addr) = start(restartable_server(0)).await;
    let (third, third_addr) = start(restartable_server(0)).await;
    let client = Client::builder(format!("ws://127.0.0.1:{nowhere}"))
        .alternate_url(url(second_addr))
        .alternate_url(url(third_addr))
        .reconnect(echorpc::Backoff::new(
            Duration::from_millis(20),
            Duration::from_millis(50),
        ))
        .build();
    let (up_tx, mut ups) = tokio::sync::mpsc::unbounded_channel();
    client.on_connect(move |conn: Connection| {
        let _ = up_tx.send(conn.id());
        async {}
    });

    // The first URL refuses: connect goes on to the second.
    within("connect", client.connect()).await.unwrap();
    within("on_connect", ups.recv()).await.unwrap();
    assert_eq!(second.connections().len(), 1, "connected to the second URL");
    assert!(third.connections().is_empty());

    // The second server goes away: the reconnect lands on the third, the next in the list.
    second.stop().await;
    within("reconnect", ups.recv()).await.unwrap();
    assert_eq!(third.connections().len(), 1, "reconnected to the third URL");
    assert_eq!(
        client
            .request("add", json!({"a": 2, "b": 3}))
            .await
            .unwrap(),
        json!({"sum": 5})
    );

    // The third goes too: the list wraps around (the first is still dead, the second stopped)
    // until the second is back on its port.
    third.stop().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!client.is_connected());
    let (back, _) = start(restartable_server(second_addr.port())).await;
    within("reconnect after wrapping around", ups.recv())
        .await
        .unwrap();
    assert_eq!(back.connections().len(), 1);
    client.disconnect().await;
    back.stop().await;
}
