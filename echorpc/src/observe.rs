//! The figures an operator watches: connections opened and open (by role), upgrades refused
//! (by status), peers dropped (full queue, missed pong). Always counted for
//! [`Server::stats`](crate::Server::stats); also sent through the `metrics` facade with the
//! `metrics` feature.
//!
//! Metric names (feature `metrics`):
//!
//! | name | kind | labels |
//! |---|---|---|
//! | `echorpc_connections_opened_total` | counter | `role` |
//! | `echorpc_connections_open` | gauge | `role` |
//! | `echorpc_upgrades_rejected_total` | counter | `status` (400, 401, 403, 503, …) |
//! | `echorpc_peers_dropped_total` | counter | `reason` (`queue_full`, `pong_timeout`) |

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::transport::Close;

/// A snapshot of a server's figures, from [`Server::stats`](crate::Server::stats).
///
/// Counters count since the server was built; `open_*` are the connections open now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerStats {
    /// Connections open now.
    pub open_connections: usize,
    /// Connections open now, by metadata `role`.
    pub open_by_role: BTreeMap<String, usize>,
    /// Connections accepted (past auth) since the server was built.
    pub connections_opened: u64,
    /// Upgrade requests refused, by HTTP status (400, 401, 403, 405, 426, 431, 503).
    pub upgrades_rejected: BTreeMap<u16, u64>,
    /// Peers disconnected because they stopped reading and their outbound queue filled.
    pub peers_dropped_queue_full: u64,
    /// Peers disconnected because they did not answer a ping in time.
    pub peers_dropped_pong_timeout: u64,
}

/// Why this side dropped a peer, from the close it sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dropped {
    QueueFull,
    PongTimeout,
}

impl Dropped {
    /// The reason behind a close this side sent, when it dropped the peer.
    pub(crate) fn from_close(close: &Close) -> Option<Self> {
        match (close.code(), close.reason()) {
            (1008, "outbound queue full") => Some(Self::QueueFull),
            (1001, "pong timeout") => Some(Self::PongTimeout),
            _ => None,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::QueueFull => "queue_full",
            Self::PongTimeout => "pong_timeout",
        }
    }
}

/// A server's counters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    opened: AtomicU64,
    rejected: Mutex<BTreeMap<u16, u64>>,
    dropped_queue_full: AtomicU64,
    dropped_pong_timeout: AtomicU64,
}

impl Counters {
    pub(crate) fn connection_opened(&self, role: &str) {
        self.opened.fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        {
            let role = role.to_owned();
            ::metrics::counter!("echorpc_connections_opened_total", "role" => role.clone())
                .increment(1);
            ::metrics::gauge!("echorpc_connections_open", "role" => role).increment(1.0);
        }
        #[cfg(not(feature = "metrics"))]
        let _ = role;
    }

    pub(crate) fn connection_closed(&self, role: &str) {
        #[cfg(feature = "metrics")]
        ::metrics::gauge!("echorpc_connections_open", "role" => role.to_owned()).decrement(1.0);
        #[cfg(not(feature = "metrics"))]
        let _ = role;
    }

    pub(crate) fn upgrade_rejected(&self, status: u16) {
        *self
            .rejected
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(status)
            .or_default() += 1;
        #[cfg(feature = "metrics")]
        ::metrics::counter!("echorpc_upgrades_rejected_total", "status" => status.to_string())
            .increment(1);
    }

    pub(crate) fn peer_dropped(&self, why: Dropped) {
        let counter = match why {
            Dropped::QueueFull => &self.dropped_queue_full,
            Dropped::PongTimeout => &self.dropped_pong_timeout,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        ::metrics::counter!("echorpc_peers_dropped_total", "reason" => why.label()).increment(1);
        #[cfg(not(feature = "metrics"))]
        let _ = why.label();
    }

    /// The counters, with the open connections filled in by the caller.
    pub(crate) fn snapshot(&self) -> ServerStats {
        ServerStats {
            connections_opened: self.opened.load(Ordering::Relaxed),
            upgrades_rejected: self
                .rejected
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
            peers_dropped_queue_full: self.dropped_queue_full.load(Ordering::Relaxed),
            peers_dropped_pong_timeout: self.dropped_pong_timeout.load(Ordering::Relaxed),
            ..ServerStats::default()
        }
    }
}
