//! The backplane: what a node needs from the engine that links the nodes of a cluster. The rest
//! of the cluster code only speaks to this trait; Redis (`redis.rs`, feature `redis`) is the one
//! implementation.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::future::BoxFuture;
use tokio::sync::mpsc;

/// Where a message is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Channel<'a> {
    /// The channel every node listens to (broadcasts, presence queries).
    All,
    /// One node's own channel (calls, answers).
    Node(&'a str),
}

/// A backplane operation that failed: the engine is unreachable or answered with an error.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub(crate) struct BackplaneError(pub(crate) String);

/// Where a connection with a given `client_id` is, as written in the cluster's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DirEntry {
    pub(crate) node: String,
    pub(crate) id: u64,
    /// When the connection opened, in milliseconds since the Unix epoch.
    pub(crate) at_ms: u64,
}

/// One node's link to the cluster.
///
/// Every operation is bounded in time by the implementation and fails (rather than waits) while
/// the engine is unreachable.
pub(crate) trait Backplane: Send + Sync + fmt::Debug + 'static {
    /// Whether the engine is reachable now (as far as the last operations tell).
    fn is_connected(&self) -> bool;

    /// How many times the link to the engine was lost so far: when it changed, the engine may
    /// have lost this node's state (a restarted Redis starts empty) and the node writes it again.
    fn losses(&self) -> u64;

    /// Publishes `payloads` in order, in one round trip where the engine allows it; returns how
    /// many nodes received each.
    fn publish(
        &self,
        payloads: Vec<(Channel<'_>, String)>,
    ) -> BoxFuture<'_, Result<Vec<usize>, BackplaneError>>;

    /// Marks this node alive for `ttl_secs` more seconds, and makes sure it is subscribed to its
    /// channels (after a reconnect). Returns whether the node still counted as alive before:
    /// `false` the first time, and after a stall long enough for the other nodes to take it for
    /// dead and remove its directory records (which the node then writes again).
    fn keep_alive(&self, ttl_secs: u64) -> BoxFuture<'_, Result<bool, BackplaneError>>;

    /// The nodes alive now, this one included (a read only).
    fn live_nodes(&self) -> BoxFuture<'_, Result<Vec<String>, BackplaneError>>;

    /// Removes every directory record of `node` (this node, when it leaves, and its previous
    /// run under the same name, when it joins). Returns how many records were removed.
    fn forget_node<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<usize, BackplaneError>>;

    /// Removes the directory records of the other nodes that died without leaving, and then
    /// their names, in at most `max_pages` round trips (what is left waits for the next
    /// sweep). A node that comes back meanwhile keeps every record it writes. Returns how many
    /// records were removed.
    fn sweep_dead_nodes(&self, max_pages: usize) -> BoxFuture<'_, Result<usize, BackplaneError>>;

    /// Records that `client_id` has a connection at `entry` (and, in the index of `entry.node`,
    /// that the connection belongs to `client_id`, so the node's records can be found when it
    /// dies).
    fn directory_add<'a>(
        &'a self,
        client_id: &'a str,
        entry: &'a DirEntry,
    ) -> BoxFuture<'a, Result<(), BackplaneError>>;

    /// Removes exactly the record of this node's connection `id` for `client_id`, and its index
    /// entry (another connection with the same `client_id` keeps its own record).
    fn directory_remove<'a>(
        &'a self,
        client_id: &'a str,
        id: u64,
    ) -> BoxFuture<'a, Result<(), BackplaneError>>;

    /// Removes the record of connection `id` of `node` for `client_id`, found stale by a call.
    /// The node's index is left alone: the node (or, when it is dead,
    /// [`forget_node`](Self::forget_node)) owns it, and the id may name a newer connection.
    fn directory_forget<'a>(
        &'a self,
        client_id: &'a str,
        node: &'a str,
        id: u64,
    ) -> BoxFuture<'a, Result<(), BackplaneError>>;

    /// Every recorded connection of `client_id`.
    fn directory_lookup<'a>(
        &'a self,
        client_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<DirEntry>, BackplaneError>>;

    /// Leaves the cluster: this node stops counting as alive at once, and its directory records
    /// are removed.
    fn leave(&self) -> BoxFuture<'_, ()>;
}

/// What a backplane hands incoming messages to: a bounded queue; a message past its capacity is
/// counted and dropped, so a burst never grows memory without bound.
#[derive(Debug, Clone)]
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) struct Inbound {
    tx: mpsc::Sender<String>,
    dropped: Arc<AtomicU64>,
}

impl Inbound {
    /// A queue of `capacity` messages and its receiving end.
    pub(crate) fn new(capacity: usize, dropped: Arc<AtomicU64>) -> (Self, mpsc::Receiver<String>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (Self { tx, dropped }, rx)
    }

    /// Queues one message without waiting.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn deliver(&self, payload: String) {
        if self.tx.try_send(payload).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed);
            if n.is_power_of_two() || n == 0 {
                tracing::warn!(
                    dropped = n + 1,
                    "cluster inbound queue full; message dropped"
                );
            }
        }
    }
}

/// Opens a node's backplane: `cluster` and `node` name it, messages on its channels go to
/// `inbound`.
pub(crate) trait Connect: Send + Sync + fmt::Debug + 'static {
    /// One attempt to open the backplane (the caller retries).
    fn connect(
        &self,
        cluster: String,
        node: String,
        inbound: Inbound,
    ) -> BoxFuture<'static, Result<Arc<dyn Backplane>, BackplaneError>>;

    /// What to call the engine in logs (e.g. the Redis URL without its password).
    fn describe(&self) -> String;
}
