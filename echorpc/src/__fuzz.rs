//! Entry points into crate-private parsers for the fuzz targets in `fuzz/`. Not a public API:
//! it exists only with the `fuzzing` feature and changes without notice.
//!
//! Everything else the fuzz targets drive (the router, generated dispatch, the client) they
//! reach through the public API over [`memory::pair`](crate::transport::memory::pair).

use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncRead, AsyncWrite};

use crate::auth::AuthRequest;
use crate::message::{Incoming, Received, parse_frame};
use crate::server::upgrade;

/// What the message parser made of one frame, as the router would see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameKind {
    /// One message.
    Single(MessageKind),
    /// A non-empty batch, element by element.
    Batch(Vec<MessageKind>),
    /// Not a message at all: answered with this error code and `id: null`.
    Invalid(i64),
}

/// What one message (or batch element) is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageKind {
    /// A request, with its id exactly as received (raw JSON text): owed one answer.
    Request {
        /// The raw id.
        id: String,
        /// The method name.
        method: String,
    },
    /// A notification (an event or a heartbeat): never answered.
    Notification {
        /// The method name.
        method: String,
    },
    /// A response to one of this side's calls: never answered.
    Response {
        /// The raw id.
        id: String,
    },
    /// Not a valid message: answered with this error code and `id: null`.
    Invalid(i64),
}

fn kind(message: Incoming<'_>) -> MessageKind {
    match message {
        Incoming::Request { id, method, .. } => MessageKind::Request {
            id: id.get().to_owned(),
            method: method.into_owned(),
        },
        Incoming::Notification { method, .. } => MessageKind::Notification {
            method: method.into_owned(),
        },
        Incoming::Response { id, .. } => MessageKind::Response {
            id: id.get().to_owned(),
        },
        Incoming::Invalid(err) => MessageKind::Invalid(code_of(&err)),
    }
}

fn code_of(err: &crate::Error) -> i64 {
    err.code().map_or(0, |code| code.as_i64())
}

/// Runs the router's message parser on `text`.
pub fn classify_frame(text: &str) -> FrameKind {
    match parse_frame(text) {
        Received::Single(message) => FrameKind::Single(kind(message)),
        Received::Batch(items) => FrameKind::Batch(items.into_iter().map(kind).collect()),
        Received::Invalid(err) => FrameKind::Invalid(code_of(&err)),
    }
}

/// How the HTTP side of a WebSocket upgrade ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpgradeOutcome {
    /// A well-formed upgrade request, answered `101 Switching Protocols`.
    Accepted {
        /// The `token` from the query string.
        token: String,
        /// The `role` from the query string (`web` by default).
        role: String,
        /// The path without its query.
        path: String,
        /// Bytes the client sent after the request.
        leftover: usize,
    },
    /// Refused with this status before any WebSocket frame (by the upgrade checks, or by
    /// hyper for a request it could not parse).
    Refused(u16),
    /// Closed without an answer: the request was cut short (the peer stopped sending before
    /// its end), or it was not HTTP/1 at all.
    Unanswered,
}

/// Serves an upgrade request from `stream` exactly as the standalone listener does (hyper's
/// HTTP/1 server, the same checks and answers), for a server with no auth handler and the
/// default connection limit: `101` for a well-formed request, an error status otherwise. The
/// answer is written to `stream`.
pub async fn upgrade_exchange<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) -> UpgradeOutcome {
    let seen: Arc<Mutex<Option<AuthRequest>>> = Arc::default();
    let record = Arc::clone(&seen);
    let server = crate::Server::builder()
        .auth(move |request: &AuthRequest| {
            *record.lock().unwrap_or_else(PoisonError::into_inner) = Some(request.clone());
            true
        })
        .build();
    let ended = upgrade::exchange_for_fuzzing(&server, stream).await;
    let seen = seen.lock().unwrap_or_else(PoisonError::into_inner).take();
    match (ended, seen) {
        (upgrade::Ended::Upgraded(leftover), Some(request)) => UpgradeOutcome::Accepted {
            token: request.token,
            role: request.role,
            path: request.path,
            leftover,
        },
        // Unreachable: a 101 is only answered after the auth handler ran.
        (upgrade::Ended::Upgraded(_), None) => UpgradeOutcome::Refused(0),
        (upgrade::Ended::Refused(status), _) => UpgradeOutcome::Refused(status),
        (upgrade::Ended::Unanswered, _) => UpgradeOutcome::Unanswered,
    }
}
