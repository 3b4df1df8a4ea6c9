//! Every limit holds: message size, requests in flight, the outbound queue, connections.

use std::time::Duration;

use echorpc::{Error, ErrorCode, Limits};
use echorpc_tests::*;
use serde_json::json;
use tokio_tungstenite::tungstenite;

async fn wait_until_no_connections(server: &echorpc::Server) {
    within("connections to close", async {
        while !server.connections().is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn an_oversized_message_closes_that_connection_with_1009() {
    let server = local_server()
        .limits(Limits::default().with_max_message_size(1024))
        .build();
    register_add(&server);
    let (server, addr) = start(server).await;
    let mut raw = RawPeer::connect(addr, "").await;
    let padding = "x".repeat(2048);
    raw.send_text(&format!(
        r#"{{"jsonrpc":"2.0","method":"note","params":"{padding}"}}"#
    ))
    .await;
    assert_eq!(raw.close_code().await, Some(1009));
    wait_until_no_connections(&server).await;
    still_serves(addr).await;
}

#[tokio::test]
async fn requests_past_the_in_flight_limit_are_answered_32004() {
    let server = local_server()
        .limits(Limits::default().with_max_in_flight(2))
        .build();
    server
        .register("sleep", |ms: u64, _| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok::<_, Error>(ms)
        })
        .unwrap();
    let (_server, addr) = start(server).await;
    let client = connected(client_for(addr)).await;
    let calls = (0..3).map(|_| client.request("sleep", 300));
    let results = within("3 calls", futures::future::join_all(calls)).await;
    let busy = results
        .iter()
        .filter(|r| {
            r.as_ref()
                .is_err_and(|e| e.code() == Some(ErrorCode::SERVER_BUSY))
        })
        .count();
    assert_eq!(busy, 1, "{results:?}");
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 2);
    // Once they finish, the slots are free again.
    assert_eq!(client.request("sleep", 1).await.unwrap(), json!(1));
}

#[tokio::test]
async fn a_peer_that_stops_reading_is_disconnected_instead_of_buffered() {
    let server = local_server()
        .limits(Limits::default().with_outbound_queue(8))
        .build();
    register_add(&server);
    server
        .register("big", |_: serde_json::Value, _| async move {
            Ok::<_, Error>("y".repeat(64 * 1024))
        })
        .unwrap();
    let (server, addr) = start(server).await;
    let mut hog = RawPeer::connect(addr, "").await;
    // Ask for ~32 MiB of answers and read none of them.
    for id in 0..500 {
        hog.send_text(&format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"big"}}"#))
            .await;
    }
    wait_until_no_connections(&server).await;
    still_serves(addr).await;
}

#[tokio::test]
async fn upgrades_past_the_connection_limit_get_503() {
    let server = local_server()
        .limits(Limits::default().with_max_connections(2))
        .build();
    register_add(&server);
    let (server, addr) = start(server).await;
    let first = RawPeer::connect(addr, "").await;
    let _second = RawPeer::connect(addr, "").await;
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    match tokio_tungstenite::client_async(format!("ws://{addr}/"), stream).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status().as_u16(), 503),
        other => panic!("expected HTTP 503, got {:?}", other.map(|_| ())),
    }
    drop(first);
    within("a slot to free up", async {
        while server.connections().len() > 1 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let _third = RawPeer::connect(addr, "").await;
}
