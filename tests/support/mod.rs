//! Shared helpers of the integration tests: servers on 127.0.0.1 port 0, clients, and a raw
//! WebSocket peer that speaks JSON by hand.

#![allow(missing_docs, unreachable_pub)]

pub mod certs;
pub mod interop;
pub mod redis;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use echorpc::{Client, ClientBuilder, Error, Server, ServerBuilder};
use futures::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

/// How long any single step of a test may take before it counts as hung.
pub const STEP: Duration = Duration::from_secs(5);

/// Awaits `fut`, failing the test if it takes longer than [`STEP`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(STEP, fut).await {
        Ok(value) => value,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// A server builder bound to 127.0.0.1, port 0.
pub fn local_server() -> ServerBuilder {
    Server::builder().host("127.0.0.1").port(0)
}

pub fn url(addr: SocketAddr) -> String {
    format!("ws://{addr}")
}

/// A client builder for `addr` with fast reconnects.
pub fn client_for(addr: SocketAddr) -> ClientBuilder {
    Client::builder(url(addr)).reconnect(echorpc::Backoff::new(
        Duration::from_millis(50),
        Duration::from_millis(200),
    ))
}

/// Starts `server` and returns it with its address.
pub async fn start(server: Server) -> (Server, SocketAddr) {
    let addr = server.start().await.expect("server starts");
    (server, addr)
}

/// A connected client.
pub async fn connected(builder: ClientBuilder) -> Client {
    let client = builder.build();
    within("connect", client.connect())
        .await
        .expect("client connects");
    client
}

#[derive(Debug, Deserialize, Serialize)]
pub struct AddParams {
    pub a: i64,
    pub b: i64,
}

/// Registers `add` {a,b} → {"sum"}.
pub fn register_add(server: &Server) {
    server
        .register("add", |p: AddParams, _| async move {
            Ok::<_, Error>(serde_json::json!({ "sum": p.a + p.b }))
        })
        .expect("register add");
}

/// A WebSocket peer driven by hand, for what the typed API never sends.
#[derive(Debug)]
pub struct RawPeer {
    pub socket: WebSocketStream<TcpStream>,
}

impl RawPeer {
    /// Connects to `addr` with this query string (e.g. `"?token=secret"`).
    pub async fn connect(addr: SocketAddr, query: &str) -> Self {
        let stream = TcpStream::connect(addr).await.expect("tcp connect");
        let (socket, _) = within(
            "raw upgrade",
            tokio_tungstenite::client_async(format!("ws://{addr}/{query}"), stream),
        )
        .await
        .expect("raw upgrade");
        Self { socket }
    }

    pub async fn send_text(&mut self, text: &str) {
        self.socket
            .send(Message::text(text))
            .await
            .expect("raw send");
    }

    /// The next message, or `None` once the connection is closed.
    pub async fn next_message(&mut self) -> Option<Message> {
        match within("raw receive", self.socket.next()).await {
            Some(Ok(message)) => Some(message),
            Some(Err(_)) | None => None,
        }
    }

    /// The next JSON frame that is not a heartbeat.
    pub async fn next_json(&mut self) -> Value {
        loop {
            match self.next_message().await {
                Some(Message::Text(text)) => {
                    let value: Value = serde_json::from_str(&text).expect("json frame");
                    if value.get("method").and_then(Value::as_str) == Some("ping") {
                        continue;
                    }
                    return value;
                }
                Some(Message::Close(frame)) => panic!("closed while waiting for JSON: {frame:?}"),
                Some(_) => continue,
                None => panic!("connection ended while waiting for JSON"),
            }
        }
    }

    /// Sends `text` and returns the next JSON frame.
    pub async fn exchange(&mut self, text: &str) -> Value {
        self.send_text(text).await;
        self.next_json().await
    }

    /// Waits for the close frame and returns its code (`None` if the socket just ended).
    pub async fn close_code(&mut self) -> Option<u16> {
        loop {
            match self.next_message().await {
                Some(Message::Close(frame)) => return frame.map(|f| u16::from(f.code)),
                Some(_) => continue,
                None => return None,
            }
        }
    }
}

/// A healthy request over a fresh client, to show a server still serves.
pub async fn still_serves(addr: SocketAddr) {
    let client = connected(client_for(addr).token("secret")).await;
    let sum = within(
        "add",
        client.request("add", serde_json::json!({"a": 2, "b": 3})),
    )
    .await
    .expect("add works");
    assert_eq!(sum, serde_json::json!({ "sum": 5 }));
    client.disconnect().await;
}
