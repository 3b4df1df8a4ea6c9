//! Presence: the connections of every node of the cluster, asked for with a timeout.

use std::collections::BTreeSet;

use serde_json::{Map, Value};
use tokio::sync::mpsc;

use super::ConnectionAddr;
use super::backplane::Channel;
use super::node::unreachable;
use super::wire::{self, Wire, WireEntry};
use crate::connection::Metadata;
use crate::error::Error;
use crate::server::Server;

/// One connection somewhere in the cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct PresenceEntry {
    /// Where it is.
    pub addr: ConnectionAddr,
    /// Its metadata (`role`, `client_id`, what auth added), without the token.
    pub meta: Metadata,
}

/// The answer of [`Server::presence`](crate::Server::presence).
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Presence {
    /// The connections of every node that answered, this one included.
    pub entries: Vec<PresenceEntry>,
    /// The nodes alive in the cluster that did not answer within the timeout: the entries are
    /// partial when this is not empty.
    pub missing_nodes: Vec<String>,
}

impl Presence {
    /// How many connections were found.
    pub fn count(&self) -> usize {
        self.entries.len()
    }

    /// Whether every live node answered.
    pub fn is_complete(&self) -> bool {
        self.missing_nodes.is_empty()
    }

    /// The distinct `client_id`s, sorted.
    pub fn client_ids(&self) -> Vec<String> {
        let ids: BTreeSet<&str> = self.entries.iter().map(|e| e.meta.client_id()).collect();
        ids.into_iter().map(str::to_owned).collect()
    }
}

/// This node's connections (of `role`, when given), as sent to other nodes.
pub(crate) fn local_entries(server: &Server, role: Option<&str>) -> Vec<WireEntry> {
    let mut entries = Vec::new();
    server.for_each_connection(|conn| {
        if conn.is_open() && role.is_none_or(|r| conn.meta().role() == r) {
            let mut meta: Map<String, Value> = conn.meta().to_map();
            meta.remove("token");
            entries.push(WireEntry {
                id: conn.id().as_u64(),
                meta,
            });
        }
    });
    entries
}

fn to_entries(node: &str, wire: Vec<WireEntry>) -> impl Iterator<Item = PresenceEntry> + '_ {
    wire.into_iter().map(move |e| PresenceEntry {
        addr: ConnectionAddr::new(node, e.id),
        meta: Metadata::from_map(e.meta),
    })
}

/// Every node's connections of `role`; see [`Server::presence`].
pub(crate) async fn query(server: &Server, role: Option<&str>) -> Result<Presence, Error> {
    let mine = server.node_name().to_owned();
    let local: Vec<PresenceEntry> = to_entries(&mine, local_entries(server, role)).collect();
    let Some(node) = server.cluster_node() else {
        return Ok(Presence {
            entries: local,
            missing_nodes: Vec::new(),
        });
    };
    let backplane = node.backplane().ok_or_else(unreachable)?;
    let timeout = node.config.presence_timeout;
    let started = tokio::time::Instant::now();
    let live = tokio::time::timeout(timeout, backplane.live_nodes())
        .await
        .map_err(|_| unreachable())?
        .map_err(|_| unreachable())?;
    let mut expected: BTreeSet<String> = live.into_iter().filter(|n| *n != mine).collect();
    let mut presence = Presence {
        entries: local,
        missing_nodes: Vec::new(),
    };
    if expected.is_empty() {
        return Ok(presence);
    }
    let (tx, mut rx) = mpsc::channel(expected.len() + 8);
    let rid = node.presence.register(tx).ok_or_else(|| {
        Error::new(
            crate::error::ErrorCode::SERVER_BUSY,
            "too many presence queries in flight",
        )
    })?;
    let answers = async {
        let msg = wire::encode(&Wire::PresenceQuery {
            from: mine.clone(),
            rid,
            role: role.map(str::to_owned),
        });
        backplane
            .publish(vec![(Channel::All, msg)])
            .await
            .map_err(|_| unreachable())?;
        let deadline = started + timeout;
        while !expected.is_empty() {
            let Ok(Some((from, entries))) = tokio::time::timeout_at(deadline, rx.recv()).await
            else {
                break;
            };
            // A node not in the live list (just started) still counts.
            expected.remove(&from);
            presence.entries.extend(to_entries(&from, entries));
        }
        Ok::<_, Error>(())
    }
    .await;
    node.presence.remove(rid);
    answers?;
    presence.missing_nodes = expected.into_iter().collect();
    Ok(presence)
}
