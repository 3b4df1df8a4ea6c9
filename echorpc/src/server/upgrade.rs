//! The HTTP side of accepting a WebSocket: reading the upgrade request, answering it with
//! 101, or refusing it with 400, 401, 403, 426 or 503 before any WebSocket frame.
//!
//! The upgrade is done here rather than inside tungstenite so that the (possibly async) auth
//! handler can run between reading the request and answering it. [`check_upgrade`] is the one
//! check of a request's method, headers and query, used by the standalone listener (through
//! [`read_upgrade`]) and by the hyper/axum mount alike.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::auth::{AuthRequest, Headers};
use crate::ws::socket::derive_accept_key;

/// Largest upgrade request read, headers included.
const MAX_REQUEST: usize = 16 * 1024;
const MAX_HEADERS: usize = 64;
/// How long a client may take to send its upgrade request.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A well-formed WebSocket upgrade request.
#[derive(Debug)]
pub(crate) struct Upgrade {
    pub(crate) auth: AuthRequest,
    key: String,
    /// Bytes the client sent after the request (frames it did not wait to send).
    pub(crate) leftover: Vec<u8>,
}

/// Why an upgrade request is refused: the status and a one-line body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) status: u16,
    pub(crate) reason: &'static str,
}

impl Refusal {
    pub(crate) const UNAUTHORIZED: Self = Self::new(401, "Unauthorized");
    pub(crate) const FORBIDDEN: Self = Self::new(403, "Forbidden");
    pub(crate) const BUSY: Self = Self::new(503, "Service Unavailable");

    pub(crate) const fn new(status: u16, reason: &'static str) -> Self {
        Self { status, reason }
    }
}

/// Reads and checks the upgrade request.
pub(crate) async fn read_upgrade<S: AsyncRead + Unpin>(stream: &mut S) -> Result<Upgrade, Refusal> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|_| Refusal::new(400, "Bad Request"))?;
        if n == 0 {
            return Err(Refusal::new(400, "Bad Request"));
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => {
                let upgrade = check_request(&request)?;
                return Ok(Upgrade {
                    leftover: buf[len..].to_vec(),
                    ..upgrade
                });
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_REQUEST => {}
            Ok(httparse::Status::Partial) => {
                return Err(Refusal::new(431, "Request Header Fields Too Large"));
            }
            Err(_) => return Err(Refusal::new(400, "Bad Request")),
        }
    }
}

fn has_token(value: Option<&str>, token: &str) -> bool {
    value.is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
}

fn check_request(request: &httparse::Request<'_, '_>) -> Result<Upgrade, Refusal> {
    let mut headers = Headers::new();
    for header in request.headers.iter() {
        headers.append(header.name, String::from_utf8_lossy(header.value).trim());
    }
    let method = request.method.unwrap_or("");
    let target = request.path.ok_or(Refusal::new(400, "Bad Request"))?;
    let (auth, key) = check_upgrade(method, target, headers)?;
    Ok(Upgrade {
        auth,
        key,
        leftover: Vec::new(),
    })
}

/// Checks a WebSocket upgrade request (`method`, request `target` with its query, `headers`)
/// and returns what the auth handler sees (without the peer's address) and the client's
/// `Sec-WebSocket-Key`.
pub(crate) fn check_upgrade(
    method: &str,
    target: &str,
    headers: Headers,
) -> Result<(AuthRequest, String), Refusal> {
    let bad = Refusal::new(400, "Bad Request");
    if method != "GET" {
        return Err(Refusal::new(405, "Method Not Allowed"));
    }
    if !has_token(headers.get("upgrade"), "websocket")
        || !has_token(headers.get("connection"), "upgrade")
    {
        return Err(Refusal::new(426, "Upgrade Required"));
    }
    if headers.get("sec-websocket-version").map(str::trim) != Some("13") {
        return Err(Refusal::new(426, "Upgrade Required"));
    }
    let key = headers
        .get("sec-websocket-key")
        .map(str::trim)
        .filter(|key| !key.is_empty())
        .ok_or(bad)?
        .to_owned();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut auth = AuthRequest {
        path: path.to_owned(),
        origin: headers.get("origin").map(str::to_owned),
        ..AuthRequest::default()
    };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match percent_decode(name).as_str() {
            "token" => &mut auth.token,
            "role" => &mut auth.role,
            "client_id" => &mut auth.client_id,
            _ => continue,
        };
        *slot = percent_decode(value);
    }
    auth.headers = headers;
    Ok((auth, key))
}

/// The `Sec-WebSocket-Accept` value answering `key`.
pub(crate) fn accept_key(key: &str) -> String {
    derive_accept_key(key.as_bytes())
}

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space), as Python's `parse_qs`.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 3 <= bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Answers 101 Switching Protocols.
pub(crate) async fn accept<S: AsyncWrite + Unpin>(
    stream: &mut S,
    upgrade: &Upgrade,
) -> std::io::Result<()> {
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(&upgrade.key)
    );
    stream.write_all(response.as_bytes()).await
}

/// Answers with an error status and closes.
pub(crate) async fn refuse<S: AsyncWrite + Unpin>(stream: &mut S, refusal: Refusal) {
    let extra = if refusal.status == 426 {
        "Sec-WebSocket-Version: 13\r\n"
    } else {
        ""
    };
    let body = format!("{}\n", refusal.reason);
    let response = format!(
        "HTTP/1.1 {} {}\r\n{extra}Content-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        refusal.status,
        refusal.reason,
        body.len()
    );
    let write = async {
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), write).await;
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn decodes_form_encoding() {
        assert_eq!(percent_decode("a%20b+c"), "a b c");
        assert_eq!(percent_decode("%E2%9C%93"), "\u{2713}");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
