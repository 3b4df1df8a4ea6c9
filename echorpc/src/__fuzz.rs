//! Entry points into crate-private code for the fuzz targets in `fuzz/`. Not a public API: it
//! exists only with the `fuzzing` feature and changes without notice.
//!
//! Everything else the fuzz targets drive (the router, generated dispatch, the client) they
//! reach through the public API over [`memory::pair`](crate::transport::memory::pair). The
//! targets judge what they see with oracles of their own: none of the runtime's parsers is
//! exposed here, so a parser bug cannot make its own oracle agree with it.

use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{Map, Value};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::auth::AuthRequest;
use crate::server::upgrade;

/// The auth handler a fuzzed upgrade runs against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FuzzAuth {
    /// A synchronous handler that accepts every request (`true`).
    AcceptAll,
    /// A synchronous handler that refuses every request (`false`).
    RefuseAll,
    /// An asynchronous handler that accepts (with a metadata object) only the requests whose
    /// `token` is exactly this one, and refuses (`None`) the others.
    Token(String),
}

/// How the HTTP side of a WebSocket upgrade ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpgradeOutcome {
    /// Answered `101 Switching Protocols`; `leftover` bytes the client sent after its request.
    Accepted {
        /// Bytes the client sent after the request.
        leftover: usize,
    },
    /// Refused with this status before any WebSocket frame (by the upgrade checks, the auth
    /// handler, or by hyper for a request it could not parse).
    Refused(u16),
    /// Closed without an answer: the request was cut short (the peer stopped sending before
    /// its end), or it was not HTTP/1 at all.
    Unanswered,
}

/// One upgrade exchange: how it ended, and what the auth handler was asked, if it ran.
#[derive(Debug, Clone)]
pub struct UpgradeExchange {
    /// How it ended.
    pub outcome: UpgradeOutcome,
    /// The request the auth handler saw (`None`: it never ran).
    pub asked: Option<AuthRequest>,
}

/// Serves an upgrade request from `stream` exactly as the standalone listener does (hyper's
/// HTTP/1 server, the same checks and answers), for a server with the default connection limit
/// and the given auth handler: `101` for a well-formed request the handler accepts, `401` for
/// one it refuses, an error status for a malformed one. The answer is written to `stream`.
pub async fn upgrade_exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    auth: FuzzAuth,
) -> UpgradeExchange {
    let seen: Arc<Mutex<Option<AuthRequest>>> = Arc::default();
    let record = Arc::clone(&seen);
    let remember = move |request: &AuthRequest| {
        *record.lock().unwrap_or_else(PoisonError::into_inner) = Some(request.clone());
    };
    let builder = crate::Server::builder();
    let builder = match auth {
        FuzzAuth::AcceptAll => builder.auth(move |request: &AuthRequest| {
            remember(request);
            true
        }),
        FuzzAuth::RefuseAll => builder.auth(move |request: &AuthRequest| {
            remember(request);
            false
        }),
        FuzzAuth::Token(token) => builder.auth_async(move |request: AuthRequest| {
            remember(&request);
            let accept = request.token == token;
            async move {
                tokio::task::yield_now().await;
                accept.then(|| {
                    let mut meta = Map::new();
                    meta.insert("fuzz".to_owned(), Value::Bool(true));
                    meta
                })
            }
        }),
    };
    let server = builder.build();
    let ended = upgrade::exchange_for_fuzzing(&server, stream).await;
    let asked = seen.lock().unwrap_or_else(PoisonError::into_inner).take();
    let outcome = match ended {
        upgrade::Ended::Upgraded(leftover) => UpgradeOutcome::Accepted { leftover },
        upgrade::Ended::Refused(status) => UpgradeOutcome::Refused(status),
        upgrade::Ended::Unanswered => UpgradeOutcome::Unanswered,
    };
    UpgradeExchange { outcome, asked }
}
