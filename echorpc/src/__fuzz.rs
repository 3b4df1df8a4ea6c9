//! Entry points into crate-private parsers for the fuzz targets in `fuzz/`. Not a public API:
//! it exists only with the `fuzzing` feature and changes without notice.
//!
//! Everything else the fuzz targets drive (the router, generated dispatch, the client) they
//! reach through the public API over [`memory::pair`](crate::transport::memory::pair).

use tokio::io::{AsyncRead, AsyncWrite};

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
    /// Refused with this status before any WebSocket frame.
    Refused(u16),
}

/// Reads an upgrade request from `stream` and answers it as the listener does (without the
/// auth handler and the connection limit): `101` for a well-formed request, an error status
/// otherwise. The answer is written to `stream`.
pub async fn upgrade_exchange<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) -> UpgradeOutcome {
    match upgrade::read_upgrade(stream).await {
        Ok(request) => {
            // A failed write means the peer is gone; the outcome is still the request's.
            let _ = upgrade::accept(stream, &request).await;
            UpgradeOutcome::Accepted {
                token: request.auth.token.clone(),
                role: request.auth.role.clone(),
                path: request.auth.path.clone(),
                leftover: request.leftover.len(),
            }
        }
        Err(refusal) => {
            upgrade::refuse(stream, refusal).await;
            UpgradeOutcome::Refused(refusal.status)
        }
    }
}
