//! Client-side WebSocket plumbing of the load generator: connect, connect many, one call.
//! `wss://` URLs are dialled with rustls trusting only the root a server announced
//! ([`trust_root_file`]).

use crate::api::operands;
use crate::wire::{self, Frame, PONG};
use futures::{SinkExt as _, StreamExt as _, stream};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::rustls;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_util::either::Either;

/// A load-generator connection, over plain TCP or TLS.
pub type Ws = WebSocketStream<Either<TcpStream, tokio_rustls::client::TlsStream<TcpStream>>>;

/// What `wss://` dials trust: the root certificate the last TLS server announced.
static TLS: RwLock<Option<Arc<rustls::ClientConfig>>> = RwLock::new(None);

/// Trusts (only) the root certificate in the PEM file `path` for every later `wss://` dial.
///
/// # Errors
/// When the file cannot be read or holds no valid certificate.
pub fn trust_root_file(path: &str) -> Result<(), String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| format!("read {path}: {e}"))? {
        let cert = cert.map_err(|e| format!("PEM in {path}: {e}"))?;
        roots
            .add(cert)
            .map_err(|e| format!("root in {path}: {e}"))?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("TLS versions: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    *TLS.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(config));
    Ok(())
}

/// Longest wait for one connect or one call before it counts as failed.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects opened at once by [`connect_many`]: well under the listen backlog, so no SYN is
/// dropped and retried a second later.
const CONNECT_PARALLELISM: usize = 64;

/// The load generator's WebSocket settings: a small read buffer, so 10,000 client connections
/// stay cheap; everything else tungstenite's default.
fn client_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(8 * 1024)
}

/// `host:port` of a `ws://host:port/path` or `wss://…` URL, and whether it is `wss://`.
fn authority(url: &str) -> Result<(&str, bool), String> {
    let (rest, secure) = match (url.strip_prefix("ws://"), url.strip_prefix("wss://")) {
        (Some(rest), _) => (rest, false),
        (_, Some(rest)) => (rest, true),
        _ => return Err(format!("not a ws:// or wss:// URL: {url}")),
    };
    Ok((rest.split('/').next().unwrap_or(rest), secure))
}

/// The TLS handshake of a `wss://` dial to `addr` (`host:port`).
async fn tls(
    tcp: TcpStream,
    addr: &str,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
    let config = TLS
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .ok_or("wss:// but no server announced a root certificate")?;
    let host = addr.rsplit_once(':').map_or(addr, |(host, _)| host);
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| format!("TLS name {host}: {e}"))?;
    tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS handshake with {addr}: {e}"))
}

/// Opens one WebSocket to `url` with Nagle off, as the servers have it.
pub async fn connect(url: &str) -> Result<Ws, String> {
    let (addr, secure) = authority(url)?;
    let attempt = async {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        tcp.set_nodelay(true)
            .map_err(|e| format!("set_nodelay: {e}"))?;
        let tcp = if secure {
            Either::Right(tls(tcp, addr).await?)
        } else {
            Either::Left(tcp)
        };
        let (ws, _response) =
            tokio_tungstenite::client_async_with_config(url, tcp, Some(client_config()))
                .await
                .map_err(|e| format!("websocket handshake with {url}: {e}"))?;
        Ok(ws)
    };
    timeout(IO_TIMEOUT, attempt)
        .await
        .map_err(|_| format!("connect to {url} timed out"))?
}

/// Opens `n` WebSockets to `url`, a bounded number at a time; fails if any fails.
pub async fn connect_many(url: &str, n: usize) -> Result<Vec<Ws>, String> {
    stream::iter(0..n)
        .map(|_| connect(url))
        .buffer_unordered(CONNECT_PARALLELISM)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

/// Sends one request and waits for its response (skipping notifications, answering pings).
/// Returns the response text; whether it is a success is for the caller to check.
pub async fn call(
    ws: &mut Ws,
    id: u64,
    method: &str,
    params: Option<&str>,
) -> Result<String, String> {
    let exchange = async {
        ws.send(Message::text(wire::request_frame(id, method, params)))
            .await
            .map_err(|e| format!("send {method}: {e}"))?;
        // Bounded by IO_TIMEOUT below; a server flooding notifications ends it too.
        loop {
            let text = match ws.next().await {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Close(_))) | None => {
                    return Err(format!("closed during {method}"));
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(format!("read during {method}: {e}")),
            };
            match wire::parse(&text) {
                Some(Frame::Single(msg)) if msg.is_ping() => {
                    ws.send(Message::text(PONG))
                        .await
                        .map_err(|e| format!("send pong: {e}"))?;
                }
                Some(Frame::Single(msg)) if msg.is_notification() => {}
                Some(Frame::Single(msg)) if msg.id_u64() == Some(id) => return Ok(text.to_string()),
                _ => return Err(format!("unexpected frame during {method}: {text}")),
            }
        }
    };
    timeout(IO_TIMEOUT, exchange)
        .await
        .map_err(|_| format!("{method} timed out"))?
}

/// Calls `add` once with id `id` and checks the answer: proof that a connection is live.
pub async fn prove_live(ws: &mut Ws, id: u64) -> Result<(), String> {
    let (a, b) = operands(id);
    let params = format!(r#"{{"a":{a},"b":{b}}}"#);
    let text = call(ws, id, "add", Some(&params)).await?;
    match wire::parse(&text) {
        Some(Frame::Single(msg)) if msg.is_add_answer(id) => Ok(()),
        _ => Err(format!("wrong answer to add: {text}")),
    }
}

/// Closes every connection politely, without waiting long for any.
pub async fn close_all(conns: Vec<Ws>) {
    stream::iter(conns)
        .for_each_concurrent(CONNECT_PARALLELISM, |mut ws| async move {
            let _ = timeout(Duration::from_secs(1), ws.close(None)).await;
        })
        .await;
}
