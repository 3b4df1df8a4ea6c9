//! Several server nodes acting as one: broadcasts, calls to a client wherever it is connected,
//! and presence, shared through a backplane. Redis is the backplane (feature `redis`); a server
//! without [`ServerBuilder::cluster`](crate::ServerBuilder::cluster) is a single node and needs
//! nothing of this.
//!
//! # What crosses nodes
//! - [`Server::broadcast`](crate::Server::broadcast), [`broadcast_to_role`](crate::Server::broadcast_to_role),
//!   [`broadcast_except`](crate::Server::broadcast_except) (and the generated `…Events`, which go
//!   through them) deliver on this node as before and publish one message to the other nodes,
//!   which deliver it to their own connections. A node ignores its own messages: no duplicates.
//!   [`Server::broadcast_where`](crate::Server::broadcast_where) takes a closure and stays local.
//! - [`Server::client`](crate::Server::client) and [`Server::connection_at`](crate::Server::connection_at)
//!   give a [`RemotePeer`]: calls, batches and events to a connection on any node, untyped or
//!   through a typed stub (`…Client::new(&peer)`, `…Batch::new(&peer)`). A connection on this
//!   node is used directly. A call or batch its caller stops awaiting is cancelled on the node
//!   serving it, which cancels the client's handler (`$/cancelRequest`) in turn.
//! - [`Server::presence`](crate::Server::presence): every node's connections, with the nodes that
//!   did not answer in time.
//!
//! # Delivery and failures
//! Delivery between nodes is **at most once**: a message published while a node is
//! disconnected from the backplane is not stored for it, and nothing is retried. Everything sent
//! toward the backplane goes through bounded queues; a broadcast that does not fit (or finds the
//! backplane down) is counted in [`ClusterStats::broadcasts_dropped`] and logged.
//!
//! While the backplane is unreachable, local delivery keeps working (a call to a client on
//! this node too), while cross-node calls and presence fail at once with `-32001`; the node
//! reconnects by itself and publishes its connections again. A call routed to a node that is
//! gone fails with `-32001` (nobody received it), one whose target does not answer in time with
//! `-32002`; the target's own error object reaches the caller unchanged. A node refreshes its
//! liveness every 3 s with a 10 s lifetime, so a dead node leaves presence within 10 s.
//!
//! # The directory of client_ids
//! Each node records its connections that have a `client_id`, and removes the record when the
//! connection closes and all of them when it leaves. A node that dies without leaving is found
//! by the others once its liveness runs out: every 3 s each node sweeps up to 10,000 records of
//! dead nodes, so they go within about 13 s. Each page of a sweep checks atomically that the
//! node is still dead, so a node that comes back under its name keeps what it writes. A node
//! that starts under the name of a previous run removes that run's records before it writes its
//! own; a node that stalled past its lifetime writes its records again. A
//! call by client_id names the client_id, and the target node delivers it only to a connection
//! with that client_id (a restarted node numbers its connections from 1 again), so a stale
//! record never reaches another client: it fails the call with `-32001` and is removed.
//!
//! # Redis and Redis Cluster
//! Every key and channel of cluster `C` starts with `echorpc:{C}:`, where `{C}` is a Redis hash
//! tag: on Redis Cluster all of them map to one slot, so the directory and liveness commands of
//! a node go to one shard, and the channels map one to one onto sharded pub/sub (`SPUBLISH`,
//! `SSUBSCRIBE`) on that shard. Plain `PUBLISH`/`SUBSCRIBE` against one Redis (or a primary with
//! replicas) is what this implementation sends today. Channels: `echorpc:{C}:all` (broadcasts,
//! presence queries) and `echorpc:{C}:node:N` (calls to node `N` and answers to it); keys:
//! `echorpc:{C}:nodes:N` (alive while it exists), `echorpc:{C}:nodes` (node names) and
//! `echorpc:{C}:clients:ID` (the connections of client_id `ID`: field `N|conn`, value the time
//! it opened, so a call by client_id goes to the most recent) and `echorpc:{C}:conns:N` (node
//! `N`'s index of those records: field `conn`, value the client_id).

mod api;
mod backplane;
mod node;
mod presence;
#[cfg(feature = "redis")]
mod redis;
mod remote;
mod wire;

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::Duration;

pub(crate) use node::ClusterNode;
pub use presence::{Presence, PresenceEntry};
pub use remote::RemotePeer;
pub(crate) use wire::Target;

use crate::connection::ConnectionId;

/// The name a server outside any cluster gives itself in [`ConnectionAddr`]s.
pub const LOCAL_NODE: &str = "local";

/// How a server joins a cluster: the backplane, the cluster and node names, and bounds.
///
/// ```no_run
/// # #[cfg(feature = "redis")] {
/// use echorpc::{Server, cluster::ClusterConfig};
/// let server = Server::builder()
///     .cluster(ClusterConfig::redis("redis://127.0.0.1:6379").node("node-a"))
///     .build();
/// # drop(server); }
/// ```
#[derive(Clone)]
pub struct ClusterConfig {
    pub(crate) connect: Arc<dyn backplane::Connect>,
    pub(crate) cluster: String,
    pub(crate) node: String,
    pub(crate) presence_timeout: Duration,
    pub(crate) max_remote_calls: usize,
    pub(crate) publish_queue: usize,
}

impl fmt::Debug for ClusterConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterConfig")
            .field("backplane", &self.connect.describe())
            .field("cluster", &self.cluster)
            .field("node", &self.node)
            .field("presence_timeout", &self.presence_timeout)
            .field("max_remote_calls", &self.max_remote_calls)
            .field("publish_queue", &self.publish_queue)
            .finish()
    }
}

impl ClusterConfig {
    /// A cluster linked through the Redis server at `url` (`redis://[:password@]host:port[/db]`).
    /// Defaults: cluster `echorpc`, a unique node name, presence timeout 2 s, 1024 cross-node
    /// calls in flight each way, a queue of 4096 broadcasts toward Redis.
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn redis(url: impl Into<String>) -> Self {
        Self::with_connect(Arc::new(redis::RedisConnect::new(url.into())))
    }

    // Every backplane is behind a feature; without one this is unused.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    fn with_connect(connect: Arc<dyn backplane::Connect>) -> Self {
        Self {
            connect,
            cluster: "echorpc".to_owned(),
            node: unique_node_name(),
            presence_timeout: Duration::from_secs(2),
            max_remote_calls: 1024,
            publish_queue: 4096,
        }
    }

    /// The cluster's name: nodes with the same backplane and name form one cluster.
    #[must_use]
    pub fn cluster(mut self, name: impl Into<String>) -> Self {
        self.cluster = name.into();
        self
    }

    /// This node's name, unique in the cluster; default: host name, process id and a random
    /// suffix.
    #[must_use]
    pub fn node(mut self, name: impl Into<String>) -> Self {
        self.node = name.into();
        self
    }

    /// How long [`Server::presence`](crate::Server::presence) waits for the other nodes.
    #[must_use]
    pub fn presence_timeout(mut self, timeout: Duration) -> Self {
        self.presence_timeout = timeout;
        self
    }

    /// How many cross-node calls may wait for their answers at once (and, separately, how many
    /// calls from other nodes this node serves at once); past it calls fail with `-32004`.
    #[must_use]
    pub fn max_remote_calls(mut self, max: usize) -> Self {
        self.max_remote_calls = max.max(1);
        self
    }

    /// How many broadcasts may wait to be published; past it they are dropped and counted.
    #[must_use]
    pub fn publish_queue(mut self, capacity: usize) -> Self {
        self.publish_queue = capacity.max(1);
        self
    }

    /// The node name this configuration uses.
    pub fn node_name(&self) -> &str {
        &self.node
    }
}

#[cfg_attr(not(feature = "redis"), allow(dead_code))]
fn unique_node_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".to_owned());
    // `RandomState` is seeded randomly per process: two nodes started together still differ.
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    format!("{host}-{}-{:06x}", std::process::id(), random & 0xff_ffff)
}

/// Where a connection is in a cluster: the node serving it and its id there.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConnectionAddr {
    node: String,
    id: u64,
}

impl ConnectionAddr {
    /// The address of connection `id` on `node`.
    pub fn new(node: impl Into<String>, id: u64) -> Self {
        Self {
            node: node.into(),
            id,
        }
    }

    pub(crate) fn local(node: &str, id: ConnectionId) -> Self {
        Self::new(node, id.as_u64())
    }

    /// The node serving the connection.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The connection's id on its node ([`ConnectionId::as_u64`]).
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl fmt::Display for ConnectionAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.node, self.id)
    }
}

/// A snapshot of one node's cluster figures, from
/// [`Server::cluster_stats`](crate::Server::cluster_stats).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClusterStats {
    /// This node's name.
    pub node: String,
    /// Whether the backplane is reachable now.
    pub connected: bool,
    /// Broadcasts published to the other nodes.
    pub broadcasts_published: u64,
    /// Broadcasts not published: the queue was full or the backplane down.
    pub broadcasts_dropped: u64,
    /// Messages received from other nodes.
    pub messages_received: u64,
    /// Messages from other nodes that did not parse (logged and dropped).
    pub messages_malformed: u64,
    /// Messages dropped because the inbound queue was full.
    pub messages_dropped: u64,
    /// Cross-node calls this node made that wait for their answers now.
    pub remote_calls_pending: usize,
}
