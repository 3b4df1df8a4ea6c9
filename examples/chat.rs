//! A chat page in the browser, talking to a Rust server through the TypeScript module generated
//! from the examples' traits: `cargo run --example chat`, then open the printed address in two
//! tabs (`?name=alice`, `?name=bob`).
//!
//! Serves the page on 127.0.0.1:`$ECHORPC_HTTP_PORT` (default 9180) and the echorpc server on
//! 127.0.0.1:`$ECHORPC_PORT` (default 9100; 0 picks a free port for either), token `secret`. The
//! page (`examples/chat/`, TypeScript compiled to `examples/chat/dist/`) uses the browser's own
//! WebSocket with the generated `AppClient` and `registerCallbacks`; chat lines travel as the
//! `chat` event and are relayed to the other tabs, and "Ask server" makes the server call the
//! page's `double` back. The server also answers `rpc.discover` with the OpenRPC document of
//! what it mounts (`Api::discover_mounted`).
//! Prints a line containing `chat page on http://…` once ready; Ctrl-C stops it.

use std::net::SocketAddr;
use std::time::Duration;

use echorpc::Server;
use echorpc_examples::app::ExampleApp;
use echorpc_examples::{AppServer, contract};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const INDEX: &str = include_str!("chat/index.html");
const CHAT_JS: &str = include_str!("chat/dist/chat.js");
const SERVICES_JS: &str = include_str!("chat/dist/services.js");

fn port(name: &str, default: u16) -> Result<u16, String> {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .map_err(|_| format!("{name} must be a port number, got {text:?}")),
        Err(_) => Ok(default),
    }
}

/// Answers one HTTP/1.1 request for the page's files; anything else is 404. Reads at most 8 KiB
/// of request head and gives up after 10 seconds.
async fn serve_page(mut stream: TcpStream, index: &str) {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    let read = async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        true
    };
    if !matches!(
        tokio::time::timeout(Duration::from_secs(10), read).await,
        Ok(true)
    ) {
        return;
    }
    let line = String::from_utf8_lossy(&head);
    let path = line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .split('?')
        .next()
        .unwrap_or("/");
    let (status, kind, body) = match path {
        "/" | "/index.html" => ("200 OK", "text/html; charset=utf-8", index),
        "/chat.js" => ("200 OK", "text/javascript; charset=utf-8", CHAT_JS),
        "/services.js" => ("200 OK", "text/javascript; charset=utf-8", SERVICES_JS),
        _ => ("404 Not Found", "text/plain; charset=utf-8", "not found\n"),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {kind}\r\ncontent-length: {}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

async fn run() -> Result<(), String> {
    let server = Server::builder()
        .host("127.0.0.1")
        .port(port("ECHORPC_PORT", 9100)?)
        .auth(|req| req.token == "secret")
        .build();
    let app = ExampleApp::new(server.clone());
    server
        .mount(AppServer::new(app))
        .map_err(|e| e.to_string())?;
    server
        .mount(contract::served().discover_mounted())
        .map_err(|e| e.to_string())?;
    let ws_addr = server.start().await.map_err(|e| e.to_string())?;

    let http_addr = SocketAddr::from(([127, 0, 0, 1], port("ECHORPC_HTTP_PORT", 9180)?));
    let listener = TcpListener::bind(http_addr)
        .await
        .map_err(|e| format!("cannot listen on {http_addr}: {e}"))?;
    let http_addr = listener.local_addr().map_err(|e| e.to_string())?;
    let index: &'static str = Box::leak(
        INDEX
            .replace("{{WS_URL}}", &format!("ws://{ws_addr}"))
            .into_boxed_str(),
    );
    println!("chat page on http://{http_addr}/ (echorpc on ws://{ws_addr})");

    let stopper = server.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stopper.stop().await;
        }
    });
    let pages = async {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(serve_page(stream, index));
                }
                Err(err) => tracing::warn!(%err, "page listener accept failed"),
            }
        }
    };
    tokio::select! {
        () = pages => Ok(()),
        served = server.serve() => served.map_err(|e| e.to_string()),
    }
}

#[tokio::main]
async fn main() {
    if let Err(err) = run().await {
        eprintln!("chat: {err}");
        std::process::exit(1);
    }
}
