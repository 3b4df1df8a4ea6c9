//! The HTTP side of accepting a WebSocket, over hyper: reading the upgrade request, answering
//! it with 101, or refusing it with 400, 401, 403, 405, 426 or 503 (a one-line text body
//! saying why) before any WebSocket frame.
//!
//! The upgrade is done here rather than inside tungstenite so that the (possibly async) auth
//! handler can run between reading the request and answering it. [`read_request`] is the one
//! check of a request's method, headers and query and [`answer`] the one admission, used by
//! the standalone listener (through [`exchange`], hyper's HTTP/1 server over the accepted
//! socket) and by the hyper/axum mount alike. No HTTP is parsed by hand.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::header::{CONNECTION, CONTENT_TYPE, HeaderValue, SEC_WEBSOCKET_ACCEPT, UPGRADE};
use hyper::server::conn::http1;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::auth::{AuthRequest, Headers};
use crate::connection::Metadata;
use crate::server::Inner;
use crate::server::session::{self, Slot};
use crate::ws::socket::derive_accept_key;

/// Largest upgrade request read, headers included (hyper's read buffer limit; past it the
/// answer is 431).
const MAX_REQUEST: usize = 16 * 1024;
/// Most headers an upgrade request may carry (past it the answer is 431).
const MAX_HEADERS: usize = 64;
/// How long a client may take to send its upgrade request.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a refused peer is given to take its answer before the socket is dropped.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);

/// Why an upgrade request is refused: the status and a one-line body saying why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) status: u16,
    pub(crate) reason: &'static str,
}

impl Refusal {
    pub(crate) const UNAUTHORIZED: Self = Self::new(401, "unauthorized: the auth handler refused");
    pub(crate) const FORBIDDEN: Self = Self::new(403, "forbidden: this Origin is not allowed");
    pub(crate) const BUSY: Self = Self::new(
        503,
        "service unavailable: connection limit reached or server stopping",
    );

    pub(crate) const fn new(status: u16, reason: &'static str) -> Self {
        Self { status, reason }
    }
}

fn has_token(value: Option<&str>, token: &str) -> bool {
    value.is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
}

/// Checks a WebSocket upgrade request (`method`, request `target` with its query, `headers`)
/// and returns what the auth handler sees (without the peer's address) and the client's
/// `Sec-WebSocket-Key`.
pub(crate) fn check_upgrade(
    method: &str,
    target: &str,
    headers: Headers,
) -> Result<(AuthRequest, String), Refusal> {
    if method != "GET" {
        return Err(Refusal::new(
            405,
            "method not allowed: a WebSocket upgrade is a GET",
        ));
    }
    if !has_token(headers.get("upgrade"), "websocket")
        || !has_token(headers.get("connection"), "upgrade")
    {
        return Err(Refusal::new(
            426,
            "upgrade required: this endpoint speaks WebSocket only (Upgrade: websocket, Connection: Upgrade)",
        ));
    }
    if headers.get("sec-websocket-version").map(str::trim) != Some("13") {
        return Err(Refusal::new(
            426,
            "upgrade required: Sec-WebSocket-Version must be 13",
        ));
    }
    let key = headers
        .get("sec-websocket-key")
        .map(str::trim)
        .filter(|key| !key.is_empty())
        .ok_or(Refusal::new(
            400,
            "bad request: no Sec-WebSocket-Key header",
        ))?
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

/// Reads what the upgrade checks need from a request hyper parsed: an HTTP/1.1 (or later)
/// request, as RFC 6455 asks, then [`check_upgrade`] on its method, target and headers.
pub(crate) fn read_request<B>(request: &Request<B>) -> Result<(AuthRequest, String), Refusal> {
    if request.version() < hyper::Version::HTTP_11 {
        return Err(Refusal::new(
            400,
            "bad request: a WebSocket upgrade needs HTTP/1.1",
        ));
    }
    let mut headers = Headers::new();
    for (name, value) in request.headers() {
        headers.append(
            name.as_str(),
            String::from_utf8_lossy(value.as_bytes()).trim(),
        );
    }
    let target = request.uri().path_and_query().map_or_else(
        || request.uri().path().to_owned(),
        |pq| pq.as_str().to_owned(),
    );
    check_upgrade(request.method().as_str(), &target, headers)
}

/// A refusal as an HTTP answer: its status and its line of text.
pub(crate) fn refusal_response(refusal: Refusal) -> Response<String> {
    let mut response = Response::new(format!("{}\n", refusal.reason));
    *response.status_mut() =
        StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_REQUEST);
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if refusal.status == 426 {
        headers.insert("sec-websocket-version", HeaderValue::from_static("13"));
    }
    response
}

/// `101 Switching Protocols` answering the client's `Sec-WebSocket-Key` `key`.
fn switching_protocols(key: &str) -> Response<String> {
    let mut response = Response::new(String::new());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(accept) = HeaderValue::from_str(&accept_key(key)) {
        headers.insert(SEC_WEBSOCKET_ACCEPT, accept);
    }
    response
}

/// The answer to a request [`read_request`] checked, whichever HTTP stack read it: a bad
/// request is refused (counted and logged); a good one goes through [`session::admit`] (403,
/// 503, 401, auth before 101). On `101` also the connection's slot and metadata.
pub(super) async fn answer(
    inner: &Arc<Inner>,
    checked: Result<(AuthRequest, String), Refusal>,
    peer: Option<SocketAddr>,
    slot: Option<Slot>,
) -> (Response<String>, Option<(Slot, Metadata)>) {
    let (mut auth, key) = match checked {
        Ok(checked) => checked,
        Err(refused) => {
            inner.counters.upgrade_rejected(refused.status);
            tracing::info!(
                ?peer,
                status = refused.status,
                "upgrade refused: bad upgrade request"
            );
            return (refusal_response(refused), None);
        }
    };
    auth.peer_addr = peer;
    match session::admit(inner, slot, auth).await {
        Ok(admitted) => (switching_protocols(&key), Some(admitted)),
        Err(refused) => (refusal_response(refused), None),
    }
}

/// How the HTTP exchange on a socket of the standalone listener ended.
#[cfg_attr(
    not(feature = "fuzzing"),
    expect(dead_code, reason = "the statuses are read by the fuzz entry only")
)]
pub(super) enum Exchanged<IO> {
    /// Answered `101`: the socket, the bytes the client sent past its request (frames it did
    /// not wait to send), the connection's slot and metadata.
    Upgraded {
        io: IO,
        leftover: Vec<u8>,
        slot: Slot,
        meta: Metadata,
    },
    /// Answered with this refusal status (the socket is closed).
    Refused(u16),
    /// No request came, or none hyper could read: `Some(status)` when hyper answered the
    /// malformed request itself (400, or 431 past the size limits), `None` when the peer left
    /// first or the socket failed.
    Unread(Option<u16>),
}

/// The HTTP/1 server of one connection, with bounded buffers. It serves one request: a `101`
/// ends HTTP on the connection, and a refusal says `Connection: close`. (Keep-alive stays on
/// in hyper, which would otherwise add `close` to the `101`'s `Connection: Upgrade`.)
fn http() -> http1::Builder {
    let mut http = http1::Builder::new();
    http.title_case_headers(true)
        .max_buf_size(MAX_REQUEST)
        .max_headers(MAX_HEADERS);
    http
}

/// Serves the one HTTP request of a standalone connection over `io` with hyper: reads the
/// upgrade request, answers it through [`answer`] (so the listener and the mount admit alike),
/// and on `101` hands the socket back with whatever hyper read past the request. hyper's
/// connection state (buffers, service) is dropped before this returns, so an upgraded
/// connection keeps nothing of it. Not bounded in time: the caller is.
pub(super) async fn exchange<IO: AsyncRead + AsyncWrite + Unpin>(
    inner: &Arc<Inner>,
    io: IO,
    peer: Option<SocketAddr>,
    slot: Option<Slot>,
) -> Exchanged<IO> {
    type Verdict = Option<Result<(Slot, Metadata), u16>>;
    let slot = Mutex::new(slot);
    let verdict: Mutex<Verdict> = Mutex::new(None);
    let service = hyper::service::service_fn(|request: Request<Incoming>| {
        let checked = read_request(&request);
        // One request per connection, so the slot is taken once.
        let slot = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
        let verdict = &verdict;
        // Boxed (so `Unpin`) for `poll_without_shutdown`.
        Box::pin(async move {
            let (mut response, admitted) = answer(inner, checked, peer, slot).await;
            if admitted.is_none() {
                response
                    .headers_mut()
                    .insert(CONNECTION, HeaderValue::from_static("close"));
            }
            *verdict.lock().unwrap_or_else(PoisonError::into_inner) =
                Some(admitted.ok_or(response.status().as_u16()));
            Ok::<_, Infallible>(response)
        })
    });
    let mut conn = http().serve_connection(TokioIo::new(io), service);
    // Without shutdown: on `101` the socket goes on as a WebSocket, and after a refusal it is
    // closed gently below.
    let served = std::future::poll_fn(|cx| conn.poll_without_shutdown(cx)).await;
    let parts = conn.into_parts();
    let io = parts.io.into_inner();
    let verdict = verdict
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    match (served, verdict) {
        (Ok(()), Some(Ok((slot, meta)))) => Exchanged::Upgraded {
            io,
            leftover: parts.read_buf.to_vec(),
            slot,
            meta,
        },
        (_, Some(Err(status))) => {
            close_gently(io).await;
            Exchanged::Refused(status)
        }
        (Err(err), _) if err.is_parse() => {
            // hyper has answered it (400, or 431 past the limits).
            let status = if err.is_parse_too_large() { 431 } else { 400 };
            inner.counters.upgrade_rejected(status);
            tracing::info!(?peer, status, %err, "upgrade refused: malformed HTTP request");
            close_gently(io).await;
            Exchanged::Unread(Some(status))
        }
        (Err(err), _) => {
            tracing::debug!(?peer, %err, "upgrade request not read");
            Exchanged::Unread(None)
        }
        // The peer closed before sending a request (or, admitted, before the 101 was out).
        (Ok(()), _) => Exchanged::Unread(None),
    }
}

/// Closes a refused socket so that the answer reaches the peer: our side is shut down, then
/// what the peer still sends is read and dropped (closing with unread bytes would reset the
/// connection and could destroy the answer), within a short time.
async fn close_gently<IO: AsyncRead + AsyncWrite + Unpin>(mut io: IO) {
    let drain = async {
        let _ = io.shutdown().await;
        let mut sink = [0u8; 1024];
        let mut budget = 4 * MAX_REQUEST;
        while budget > 0 {
            match io.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => budget = budget.saturating_sub(n),
            }
        }
    };
    let _ = tokio::time::timeout(REFUSAL_LINGER, drain).await;
}

/// How an exchange ended, without what it holds (for the fuzz target).
#[cfg(feature = "fuzzing")]
#[derive(Debug)]
pub(crate) enum Ended {
    /// Answered `101`; this many bytes came past the request.
    Upgraded(usize),
    /// Answered with this status, by the checks or by hyper.
    Refused(u16),
    /// Closed without an answer.
    Unanswered,
}

/// The standalone listener's exchange over `io` for `server` (no peer address, no TLS).
#[cfg(feature = "fuzzing")]
pub(crate) async fn exchange_for_fuzzing<IO: AsyncRead + AsyncWrite + Unpin>(
    server: &crate::Server,
    io: IO,
) -> Ended {
    let inner = &server.inner;
    match exchange(inner, io, None, session::take_slot(inner)).await {
        Exchanged::Upgraded { leftover, .. } => Ended::Upgraded(leftover.len()),
        Exchanged::Refused(status) | Exchanged::Unread(Some(status)) => Ended::Refused(status),
        Exchanged::Unread(None) => Ended::Unanswered,
    }
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
