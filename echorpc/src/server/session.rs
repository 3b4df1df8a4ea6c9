//! One client's session on the server, whatever carried it in: the connection limit, the auth
//! verdict turned into metadata, and the connection run from first frame to `on_disconnect`.

use std::sync::Arc;
use std::sync::PoisonError;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Map, Value};

use crate::auth::{AuthDecision, AuthRequest};
use tracing::Instrument;

use crate::connection::driver::Ended;
use crate::connection::{Connection, Metadata, driver};
use crate::handler::BoxFuture;
use crate::observe::Dropped;
use crate::server::Inner;
use crate::server::upgrade::Refusal;
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
}

/// A new connection with `meta`, already in the server's table (so broadcasts reach it from
/// now on).
pub(super) fn open(inner: &Inner, meta: Metadata) -> Opened {
    let conn = Connection::new(meta, inner.settings);
    inner
        .connections
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(conn.id(), conn.clone());
    if let Some(cluster) = &inner.cluster {
        cluster.connection_opened(&conn);
    }
    Opened { conn }
}

/// The one admission path of every upgrade, whichever HTTP stack read it (the standalone
/// listener, the hyper/axum mount): a browser origin not allowed → 403; no connection slot
/// (or a server shutting down) → 503; the auth handler refuses → 401. Every refusal is
/// counted and logged; on success the slot and the connection's metadata.
pub(super) async fn admit(
    inner: &Arc<Inner>,
    slot: Option<Slot>,
    request: AuthRequest,
) -> Result<(Slot, Metadata), Refusal> {
    let peer = request.peer_addr;
    let refuse = |refusal: Refusal, why: &str| {
        inner.counters.upgrade_rejected(refusal.status);
        tracing::info!(peer = ?peer, path = %request.path, status = refusal.status, "upgrade refused: {why}");
        refusal
    };
    let origin_allowed = match (&inner.allowed_origins, &request.origin) {
        (Some(allowed), Some(origin)) => allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)),
        // No list, or no `Origin` (not a browser): nothing to check.
        _ => true,
    };
    if !origin_allowed {
        return Err(refuse(Refusal::FORBIDDEN, "origin not allowed"));
    }
    let Some(slot) = slot.filter(|_| !*inner.stopped.borrow()) else {
        return Err(refuse(
            Refusal::BUSY,
            "connection limit reached or server stopping",
        ));
    };
    let path = request.path.clone();
    match authorize(inner, request).await {
        Ok(meta) => Ok((slot, meta)),
        Err(Rejected) => {
            inner
                .counters
                .upgrade_rejected(Refusal::UNAUTHORIZED.status);
            tracing::info!(peer = ?peer, %path, status = 401, "upgrade refused: auth rejected");
            Err(Refusal::UNAUTHORIZED)
        }
    }
}

/// Runs an opened connection over `transport` until it closes, then takes it out of the table
/// and runs the `on_disconnect` hooks. `peer` names the other end in logs. Everything the
/// connection logs is inside a `connection` span (id, role, client_id, peer; never the token).
pub(super) async fn run<T: Transport>(inner: &Inner, transport: T, opened: Opened, peer: &str) {
    let Opened { conn } = opened;
    let id = conn.id();
    let span = tracing::info_span!(
        "connection",
        id = %id,
        role = conn.meta().role(),
        client_id = conn.meta().client_id(),
        peer,
    );
    let role = conn.meta().role().to_owned();
    inner.counters.connection_opened(&role);
    let lifetime = async {
        tracing::info!("connection opened");
        let on_open: Option<BoxFuture<()>> = inner.hooks.on_connect_task(&conn);
        let ended = driver::drive(
            transport,
            conn.clone(),
            Arc::clone(&inner.registry),
            on_open,
        )
        .await;
        inner
            .connections
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
        if let Some(cluster) = &inner.cluster {
            cluster.connection_closed(&conn);
        }
        inner.counters.connection_closed(&role);
        if let Some(why) = match &ended {
            Ended::ByUs(close) => Dropped::from_close(close),
            Ended::ByPeer => None,
        } {
            inner.counters.peer_dropped(why);
        }
        tracing::info!(%ended, "connection closed");
        inner.hooks.run_on_disconnect(&conn).await;
    };
    lifetime.instrument(span).await;
}
