//! Bad input from a peer gets a JSON-RPC error or a proper close, never a panic, and every
//! other client keeps being served.

use echorpc_tests::*;
use futures::SinkExt;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

async fn served() -> (echorpc::Server, std::net::SocketAddr) {
    let server = local_server().build();
    register_add(&server);
    start(server).await
}

async fn healthy_call(raw: &mut RawPeer) {
    let reply = raw
        .exchange(r#"{"jsonrpc":"2.0","id":1,"method":"add","params":{"a":1,"b":1}}"#)
        .await;
    assert_eq!(reply["result"], json!({"sum": 2}));
}

#[tokio::test]
async fn invalid_json_is_a_parse_error_with_null_id() {
    let (_server, addr) = served().await;
    let mut raw = RawPeer::connect(addr, "").await;
    for text in [
        r#"{"jsonrpc":"2.0","method":"foobar,"params":"bar","baz]"#,
        "",
        "{",
        &format!("{}{}", "[".repeat(10_000), "]".repeat(9_999)),
    ] {
        let reply = raw.exchange(text).await;
        assert_eq!(reply["error"]["code"], -32700, "{text:.40}: {reply}");
        assert_eq!(reply["id"], Value::Null);
        healthy_call(&mut raw).await;
    }
}

#[tokio::test]
async fn deeply_nested_json_is_answered_without_a_crash() {
    let (_server, addr) = served().await;
    let mut raw = RawPeer::connect(addr, "").await;
    let deep_batch = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let reply = raw.exchange(&deep_batch).await;
    assert_eq!(reply[0]["error"]["code"], -32600, "{reply:.80}");
    let deep_member = format!(
        r#"{{"jsonrpc":"2.0","id":3,"method":"add","x":{}1{}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let reply = raw.exchange(&deep_member).await;
    assert!(reply["error"]["code"].is_i64(), "{reply}");
    healthy_call(&mut raw).await;
}

#[tokio::test]
async fn invalid_requests_are_32600() {
    let (_server, addr) = served().await;
    let mut raw = RawPeer::connect(addr, "").await;
    for text in [
        r#"{"jsonrpc":"2.0","method":1,"params":"bar"}"#,
        r#"{"jsonrpc":"1.0","id":1,"method":"add"}"#,
        r#"{"id":1,"method":"add"}"#,
        r#"{"jsonrpc":"2.0","id":[1],"method":"add"}"#,
        r#"{"hello":"world"}"#,
        "42",
        r#""text""#,
    ] {
        let reply = raw.exchange(text).await;
        assert_eq!(reply["error"]["code"], -32600, "{text}: {reply}");
        assert_eq!(reply["id"], Value::Null);
        healthy_call(&mut raw).await;
    }
    // A response to nothing we asked is dropped silently.
    raw.send_text(r#"{"jsonrpc":"2.0","id":99,"result":1}"#)
        .await;
    healthy_call(&mut raw).await;
}

#[tokio::test]
async fn a_binary_frame_closes_that_connection_with_1003() {
    let (_server, addr) = served().await;
    let mut bystander = RawPeer::connect(addr, "").await;
    let mut raw = RawPeer::connect(addr, "").await;
    raw.socket
        .send(Message::binary(b"{\"jsonrpc\":\"2.0\"}".to_vec()))
        .await
        .unwrap();
    assert_eq!(raw.close_code().await, Some(1003));
    healthy_call(&mut bystander).await;
    still_serves(addr).await;
}

/// Upgrades a plain TCP stream by hand, so frames can be written byte by byte.
async fn hand_upgrade(addr: std::net::SocketAddr) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8];
        within("101", tcp.read_exact(&mut byte)).await.unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"));
    tcp
}

#[tokio::test]
async fn invalid_utf8_in_a_text_frame_closes_with_1007() {
    let (_server, addr) = served().await;
    let mut tcp = hand_upgrade(addr).await;
    // FIN + text, masked, 2 bytes, zero mask key, payload that is not UTF-8.
    tcp.write_all(&[0x81, 0x82, 0, 0, 0, 0, 0xff, 0xfe])
        .await
        .unwrap();
    let mut frame = [0u8; 4];
    within("close frame", tcp.read_exact(&mut frame))
        .await
        .unwrap();
    assert_eq!(frame[0], 0x88, "a close frame");
    assert_eq!(u16::from_be_bytes([frame[2], frame[3]]), 1007);
    still_serves(addr).await;
}

#[tokio::test]
async fn plain_http_and_broken_upgrades_are_refused() {
    let (_server, addr) = served().await;
    for request in [
        &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        b"POST / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"not http at all\r\n\r\n",
    ] {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(request).await.unwrap();
        let mut answer = String::new();
        within("refusal", tcp.read_to_string(&mut answer))
            .await
            .unwrap();
        assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
    }
    still_serves(addr).await;
}
