//! Auth during the HTTP upgrade: accepted with metadata, rejected with 401.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use echorpc::{AuthDecision, Connection, Error, ErrorCode};
use echorpc_tests::*;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn whoami(server: &echorpc::Server) {
    server
        .register("whoami", |_: Value, conn: Connection| async move {
            Ok::<_, Error>(Value::Object(conn.meta().to_map()))
        })
        .unwrap();
}

#[tokio::test]
async fn accepted_connections_carry_metadata_with_auth_fields_merged() {
    let server = local_server()
        .auth(|req| {
            (req.token == "secret")
                .then(|| json!({"tier": "gold", "user": req.client_id.to_uppercase()}))
                .and_then(|v| v.as_object().cloned())
        })
        .build();
    whoami(&server);
    let (_server, addr) = start(server).await;
    let client = connected(
        client_for(addr)
            .token("secret")
            .role("ops")
            .client_id("c-1"),
    )
    .await;
    let meta = client.request("whoami", ()).await.unwrap();
    assert_eq!(
        meta,
        json!({"token": "secret", "role": "ops", "client_id": "c-1", "tier": "gold",
               "user": "C-1", "authenticated": true})
    );
}

#[tokio::test]
async fn rejected_upgrade_is_401_and_the_client_fails_with_32003_without_retrying() {
    let attempts = Arc::new(AtomicUsize::new(0));
    let counter = attempts.clone();
    let server = local_server()
        .auth_async(move |req| {
            counter.fetch_add(1, Ordering::SeqCst);
            async move { req.token == "secret" }
        })
        .build();
    let (_server, addr) = start(server).await;
    let client = client_for(addr).token("wrong").build();
    let err = within("connect", client.connect()).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::AUTH_FAILED));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(attempts.load(Ordering::SeqCst), 1, "a 401 is never retried");
    assert!(!client.is_connected());

    // On the wire: a plain HTTP 401 before any WebSocket frame.
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(
        b"GET /?token=bad HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let mut answer = String::new();
    within("401", tcp.read_to_string(&mut answer))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
}

#[tokio::test]
async fn auth_sees_defaults_and_decoded_query_values() {
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    let server = local_server()
        .auth(move |req| {
            seen_tx.send(req.clone()).unwrap();
            AuthDecision::Accept
        })
        .build();
    let (_server, addr) = start(server).await;
    let _raw = RawPeer::connect(addr, "").await;
    let seen = within("auth", seen_rx.recv()).await.unwrap();
    assert_eq!(
        (
            seen.token.as_str(),
            seen.role.as_str(),
            seen.client_id.as_str()
        ),
        ("", "web", "")
    );
    let _client = connected(client_for(addr).token("a b&c=d").client_id("ü")).await;
    let seen = within("auth", seen_rx.recv()).await.unwrap();
    assert_eq!(
        (seen.token.as_str(), seen.client_id.as_str()),
        ("a b&c=d", "ü")
    );
}

#[tokio::test]
async fn panicking_or_failing_auth_rejects() {
    let server = local_server()
        .auth(|req| -> Result<bool, String> {
            if req.token == "panic" {
                panic!("auth handler bug");
            }
            Err("lookup failed".into())
        })
        .build();
    let (_server, addr) = start(server).await;
    for token in ["panic", "other"] {
        let err = connected_err(client_for(addr).token(token).build()).await;
        assert_eq!(err.code(), Some(ErrorCode::AUTH_FAILED));
    }
}

async fn connected_err(client: echorpc::Client) -> Error {
    within("connect", client.connect()).await.unwrap_err()
}
