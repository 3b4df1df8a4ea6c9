//! The client's supervisor: drives the current connection and, after an unexpected close,
//! runs the `on_disconnect` hooks and reconnects with backoff. Its [`Phase`] tells
//! [`Client::connect`](crate::Client::connect) when it may take over.

use std::sync::Arc;
use std::sync::PoisonError;
use std::sync::atomic::Ordering;

use crate::client::Inner;
use crate::client::dial::DialError;
use crate::connection::Connection;
use crate::connection::driver::{self, Ended};
use crate::handler::BoxFuture;
use crate::transport::Transport;
use crate::ws::WsTransport;

/// What the supervisor is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// No supervisor runs.
    Idle,
    /// A connection is open.
    Connected,
    /// The connection closed; its `on_disconnect` hooks run.
    Closing,
    /// Between reconnect attempts: the only phase `connect` may take over from.
    Waiting,
    /// A reconnect attempt is dialling.
    Dialing,
    /// `connect` took over; the supervisor leaves.
    TakenOver,
}

/// A connection started over a transport, and the future driving it.
pub(super) struct Established {
    conn: Connection,
    drive: BoxFuture<Ended>,
}

/// Starts a connection over `transport` and makes it the current one.
pub(super) fn install<T: Transport>(inner: &Arc<Inner>, transport: T) -> Established {
    let conn = Connection::new(inner.meta.clone(), inner.settings);
    let on_open = inner.hooks.on_connect_task(&conn);
    let drive = Box::pin(driver::drive(
        transport,
        conn.clone(),
        Arc::clone(&inner.registry),
        on_open,
    ));
    *inner
        .current
        .write()
        .unwrap_or_else(PoisonError::into_inner) = Some(conn.clone());
    inner.phase.send_replace(Phase::Connected);
    let url = &inner.endpoints.current().shown;
    tracing::info!(connection = %conn.id(), %url, "connected");
    Established { conn, drive }
}

/// Moves from `from` to `to` unless `connect` took over meanwhile; whether it moved.
fn advance(inner: &Inner, from: Phase, to: Phase) -> bool {
    inner.phase.send_if_modified(|now| {
        let moves = *now == from;
        if moves {
            *now = to;
        }
        moves
    })
}

/// Drives the connection and, after an unexpected close, reconnects with backoff.
pub(super) async fn supervise(inner: Arc<Inner>, first: Established) {
    let mut established = first;
    let mut phase = inner.phase.subscribe();
    loop {
        let ended = established.drive.await;
        inner.phase.send_replace(Phase::Closing);
        tracing::info!(connection = %established.conn.id(), %ended, "disconnected");
        inner.hooks.run_on_disconnect(&established.conn).await;
        let Some(mut backoff) = inner.reconnect else {
            break;
        };
        // The server that dropped us may be gone: the next URL is tried first.
        inner.endpoints.advance();
        established = loop {
            if inner.stopping.load(Ordering::SeqCst) || !advance_to_waiting(&inner) {
                return leave(&inner);
            }
            let delay = backoff.next_delay();
            tokio::select! {
                // Cancel safe: a stop signalled meanwhile is kept as a permit.
                () = inner.stop.notified() => {}
                () = tokio::time::sleep(delay) => {}
                // Cancel safe: a watch receiver sees the latest value when polled again.
                _ = phase.wait_for(|now| *now == Phase::TakenOver) => {}
            }
            // A stale permit from an earlier disconnect only cuts one delay short.
            if inner.stopping.load(Ordering::SeqCst)
                || !advance(&inner, Phase::Waiting, Phase::Dialing)
            {
                return leave(&inner);
            }
            let endpoint = inner.endpoints.current();
            let dialed = inner
                .dialer
                .dial(&endpoint.url, &endpoint.shown, &inner.settings.limits);
            match dialed.await {
                Ok(socket) => break install(&inner, WsTransport::new(socket)),
                Err(DialError::Unauthorized) => {
                    let url = &endpoint.shown;
                    tracing::error!(%url, "auth failed on reconnect (HTTP 401); giving up");
                    return leave(&inner);
                }
                Err(DialError::Refused(err)) => {
                    // Kept trying: the server's certificate may be replaced meanwhile.
                    tracing::warn!(%err, ?delay, "reconnect refused");
                }
                Err(DialError::Failed(err)) => {
                    tracing::debug!(%err, ?delay, "reconnect failed");
                }
            };
            inner.endpoints.advance();
        };
    }
    leave(&inner);
}

/// Enters [`Phase::Waiting`] from closing or a failed dial.
fn advance_to_waiting(inner: &Inner) -> bool {
    advance(inner, Phase::Closing, Phase::Waiting) || advance(inner, Phase::Dialing, Phase::Waiting)
}

fn leave(inner: &Inner) {
    inner.phase.send_replace(Phase::Idle);
}
