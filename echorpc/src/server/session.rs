//! One client's session on the server, whatever carried it in: the connection limit, the auth
//! verdict turned into metadata, and the connection run from first frame to `on_disconnect`.

use std::sync::Arc;
use std::sync::PoisonError;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Map, Value};
use tokio::sync::mpsc;

use crate::auth::{AuthDecision, AuthRequest};
use crate::connection::{Connection, Metadata, driver};
use crate::frame::Frame;
use crate::handler::BoxFuture;
use crate::server::Inner;
use crate::transport::Transport;

/// Holds one of the server's connection slots until dropped.
pub(super) struct Slot(Arc<Inner>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.slots.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A slot, or `None` when the server holds its maximum of connections.
pub(super) fn take_slot(inner: &Arc<Inner>) -> Option<Slot> {
    let max = inner.settings.limits.max_connections();
    let slots: &AtomicUsize = &inner.slots;
    slots
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < max).then_some(n + 1)
        })
        .ok()
        .map(|_| Slot(Arc::clone(inner)))
}

/// The auth handler refused the request.
#[derive(Debug)]
pub(super) struct Rejected;

/// Runs the auth handler on `request`; the connection's metadata when it accepts.
pub(super) async fn authorize(inner: &Inner, request: AuthRequest) -> Result<Metadata, Rejected> {
    let decision = match &inner.auth {
        Some(check) => check.check(request.clone()).await,
        None => AuthDecision::Accept,
    };
    let mut meta = Map::new();
    meta.insert("token".into(), Value::from(request.token));
    meta.insert("role".into(), Value::from(request.role));
    meta.insert("client_id".into(), Value::from(request.client_id));
    match decision {
        AuthDecision::Reject => return Err(Rejected),
        AuthDecision::AcceptWith(extra) => meta.extend(extra),
        AuthDecision::Accept => {}
    }
    meta.insert("authenticated".into(), Value::Bool(true));
    Ok(Metadata::from_map(meta))
}

/// A connection in the server's table, not yet running.
pub(super) struct Opened {
    pub(super) conn: Connection,
    outbound: mpsc::Receiver<Frame>,
}

/// A new connection with `meta`, already in the server's table (so broadcasts reach it from
/// now on).
pub(super) fn open(inner: &Inner, meta: Metadata) -> Opened {
    let (conn, outbound) = Connection::new(meta, inner.settings);
    inner
        .connections
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(conn.id(), conn.clone());
    Opened { conn, outbound }
}

/// Runs an opened connection over `transport` until it closes, then takes it out of the table
/// and runs the `on_disconnect` hooks. `peer` names the other end in logs.
pub(super) async fn run<T: Transport>(inner: &Inner, transport: T, opened: Opened, peer: &str) {
    let Opened { conn, outbound } = opened;
    let id = conn.id();
    tracing::info!(connection = %id, peer, role = conn.meta().role(), client_id = conn.meta().client_id(), "connection opened");
    let on_open: Option<BoxFuture<()>> = inner.hooks.on_connect_task(&conn);
    let ended = driver::drive(
        transport,
        conn.clone(),
        outbound,
        Arc::clone(&inner.registry),
        on_open,
    )
    .await;
    inner
        .connections
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&id);
    tracing::info!(connection = %id, peer, %ended, "connection closed");
    inner.hooks.run_on_disconnect(&conn).await;
}
