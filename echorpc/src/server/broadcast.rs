//! Sending one event to many connections: serialised once, queued to each without waiting, so
//! one slow or dead peer never holds up the others. In a cluster, the same encoded event is
//! also published once for the other nodes, which deliver it to their own connections.

use serde::Serialize;

use crate::cluster::{ConnectionAddr, LOCAL_NODE, Target};
use crate::connection::Connection;
use crate::error::Error;
use crate::frame::Frame;
use crate::message::encode_notification;
use crate::server::Server;

impl Server {
    /// Sends an event to every open connection, on every node of the cluster; returns how many
    /// connections of this node it was queued to.
    ///
    /// # Errors
    /// `-32603` when `data` cannot be encoded.
    pub fn broadcast(&self, event: &str, data: impl Serialize) -> Result<usize, Error> {
        self.broadcast_to(event, &data, Target::All)
    }

    /// Sends an event to every connection whose metadata `role` equals `role`, on every node.
    ///
    /// # Errors
    /// `-32603` when `data` cannot be encoded.
    pub fn broadcast_to_role(
        &self,
        role: &str,
        event: &str,
        data: impl Serialize,
    ) -> Result<usize, Error> {
        let target = Target::Role {
            role: role.to_owned(),
        };
        self.broadcast_to(event, &data, target)
    }

    /// Sends an event to every connection except `except` (typically the sender), on every
    /// node.
    ///
    /// # Errors
    /// `-32603` when `data` cannot be encoded.
    pub fn broadcast_except(
        &self,
        except: &Connection,
        event: &str,
        data: impl Serialize,
    ) -> Result<usize, Error> {
        let target = Target::Except {
            node: self.node_name().to_owned(),
            id: except.id().as_u64(),
        };
        self.broadcast_to(event, &data, target)
    }

    /// Sends an event to every connection of the cluster except the one at `except`, which may
    /// be on any node (see [`Server::address_of`]).
    ///
    /// # Errors
    /// `-32603` when `data` cannot be encoded.
    pub fn broadcast_except_at(
        &self,
        except: &ConnectionAddr,
        event: &str,
        data: impl Serialize,
    ) -> Result<usize, Error> {
        let target = Target::Except {
            node: except.node().to_owned(),
            id: except.id(),
        };
        self.broadcast_to(event, &data, target)
    }

    /// Sends an event to every connection of this node that `filter` selects. A closure does not
    /// travel: this broadcast stays on this node, also in a cluster.
    ///
    /// # Errors
    /// `-32603` when `data` cannot be encoded.
    pub fn broadcast_where<P: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &P,
        filter: impl Fn(&Connection) -> bool,
    ) -> Result<usize, Error> {
        let frame = Frame::from(encode_notification(event, data)?);
        Ok(self.deliver_where(&frame, filter))
    }

    fn broadcast_to<P: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &P,
        target: Target,
    ) -> Result<usize, Error> {
        let frame = Frame::from(encode_notification(event, data)?);
        let sent = self.deliver_local(&frame, &target);
        if let Some(cluster) = self.cluster_node() {
            cluster.publish_broadcast(target, &frame);
        }
        Ok(sent)
    }

    /// Queues `frame` to this node's connections that `target` selects.
    pub(crate) fn deliver_local(&self, frame: &Frame, target: &Target) -> usize {
        match target {
            Target::All => self.deliver_where(frame, |_| true),
            Target::Role { role } => self.deliver_where(frame, |conn| conn.meta().role() == role),
            Target::Except { node, id } => {
                let here = node == self.node_name() || node == LOCAL_NODE;
                self.deliver_where(frame, |conn| !(here && conn.id().as_u64() == *id))
            }
        }
    }

    fn deliver_where(&self, frame: &Frame, filter: impl Fn(&Connection) -> bool) -> usize {
        let mut sent = 0;
        self.for_each_connection(|conn| {
            if conn.is_open() && filter(conn) {
                conn.push(frame.clone());
                sent += 1;
            }
        });
        sent
    }
}
