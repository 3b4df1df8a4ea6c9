//! The server's cluster-wide surface: addressing a client anywhere, presence, node name and
//! figures. Each works on a single node too (then only this node's connections count).

use super::presence::{self, Presence};
use super::remote::RemotePeer;
use super::{ClusterStats, ConnectionAddr, LOCAL_NODE};
use crate::connection::{Connection, ConnectionId};
use crate::error::Error;
use crate::server::Server;

impl Server {
    /// The client connection with this `client_id` (the most recent one, when several are
    /// open), wherever it is in the cluster, to call it or send it events; it is looked up on
    /// each call. Calls fail with `-32001` when no node has such a connection.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), echorpc::Error> {
    /// use echorpc::{Client, Server};
    /// use serde_json::{json, Value};
    ///
    /// let server = Server::builder().build();
    /// let client = server.connect_in_memory(Client::builder("ws://in-memory").client_id("c1")).await?;
    /// client.register("double", |p: Value, _conn| async move {
    ///     Ok::<_, echorpc::Error>(json!(p["x"].as_i64().unwrap_or(0) * 2))
    /// })?;
    /// assert_eq!(server.client("c1").request("double", json!({"x": 21})).await?, json!(42));
    /// let err = server.client("nobody").request("double", json!({"x": 1})).await.unwrap_err();
    /// assert_eq!(err.code(), Some(echorpc::ErrorCode::NOT_CONNECTED));
    /// # Ok(()) }
    /// ```
    pub fn client(&self, client_id: &str) -> RemotePeer {
        RemotePeer::by_client_id(self.clone(), client_id)
    }

    /// The connection at `addr`, on any node of the cluster.
    pub fn connection_at(&self, addr: ConnectionAddr) -> RemotePeer {
        RemotePeer::at(self.clone(), addr)
    }

    /// The cluster-wide address of one of this server's connections.
    pub fn address_of(&self, conn: &Connection) -> ConnectionAddr {
        ConnectionAddr::local(self.node_name(), conn.id())
    }

    /// This node's name in its cluster ([`LOCAL_NODE`] outside any cluster).
    pub fn node_name(&self) -> &str {
        self.cluster_node().map_or(LOCAL_NODE, |node| node.name())
    }

    /// The connections of every node of the cluster (those whose `role` is `role`, when
    /// given), asked for within the cluster's presence timeout. Nodes that did not answer in
    /// time are named in [`Presence::missing_nodes`]. Outside a cluster: this server's
    /// connections.
    ///
    /// # Errors
    /// `-32001` at once while the backplane is unreachable (never a silently partial answer).
    pub async fn presence(&self, role: Option<&str>) -> Result<Presence, Error> {
        presence::query(self, role).await
    }

    /// This node's cluster figures; `None` outside a cluster.
    pub fn cluster_stats(&self) -> Option<ClusterStats> {
        self.cluster_node().map(|node| node.stats())
    }

    /// The open connection of this server whose id is `id` and, when `client_id` is given,
    /// whose client_id it is. A directory record or a call routed by client_id passes it: a
    /// node restarted under the same name numbers its connections from 1 again, so a record of
    /// its previous run may name another client's connection.
    pub(crate) fn open_local_connection(
        &self,
        id: u64,
        client_id: Option<&str>,
    ) -> Option<Connection> {
        self.connection(ConnectionId::from_u64(id)).filter(|conn| {
            conn.is_open() && client_id.is_none_or(|wanted| conn.meta().client_id() == wanted)
        })
    }

    /// The most recent open connection of this server with this `client_id`.
    pub(crate) fn latest_local_with_client_id(&self, client_id: &str) -> Option<Connection> {
        let mut found: Option<Connection> = None;
        self.for_each_connection(|conn| {
            if conn.is_open()
                && conn.meta().client_id() == client_id
                && found.as_ref().is_none_or(|f| f.id() < conn.id())
            {
                found = Some(conn.clone());
            }
        });
        found
    }
}
