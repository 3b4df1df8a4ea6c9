//! [`RemotePeer`]: calls and events to one client connection wherever it is in the cluster,
//! addressed by `client_id` or by [`ConnectionAddr`].

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::sync::oneshot;

use super::backplane::Channel;
use super::node::{ClusterNode, unreachable};
use super::wire::{self, BatchCall, ReplyOutcome, Wire, millis};
use super::{ConnectionAddr, LOCAL_NODE};
use crate::connection::{Connection, decode};
use crate::error::{Error, ErrorCode};
use crate::pending::Outcome;
use crate::raw::RawJson;
use crate::server::Server;
use crate::service::Peer;

/// How long past the target's own timeout the caller waits for its answer before giving up:
/// room for the answer's trip back.
const REPLY_GRACE: Duration = Duration::from_secs(2);
/// How many directory entries of one client_id a call tries before giving up.
const MAX_TRIES: usize = 3;

/// Which connection a [`RemotePeer`] stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// The most recent open connection with this `client_id`, cluster-wide.
    ClientId(String),
    /// One connection.
    Addr(ConnectionAddr),
}

/// A client connection anywhere in the cluster, from [`Server::client`] or
/// [`Server::connection_at`]: call it, publish to it, or wrap it in a typed stub
/// (`MyServiceClient::new(&peer)`).
///
/// A connection on this node is used directly (no backplane involved: it works while the
/// backplane is down); one on another node through the backplane. Resolution happens on each
/// call, so a peer by `client_id` follows the client when it reconnects elsewhere.
///
/// A [`Batch`](crate::Batch) on it (or a stub's `batch()`) goes to the connection as one
/// JSON-RPC batch, wherever it is.
#[derive(Debug, Clone)]
pub struct RemotePeer {
    server: Server,
    target: Target,
}

/// Where a call goes.
enum Route {
    Local(Connection),
    Remote(ConnectionAddr),
}

impl RemotePeer {
    pub(crate) fn by_client_id(server: Server, client_id: &str) -> Self {
        Self {
            server,
            target: Target::ClientId(client_id.to_owned()),
        }
    }

    pub(crate) fn at(server: Server, addr: ConnectionAddr) -> Self {
        Self {
            server,
            target: Target::Addr(addr),
        }
    }

    /// The `client_id` this peer was addressed by, if it was.
    pub fn client_id(&self) -> Option<&str> {
        match &self.target {
            Target::ClientId(id) => Some(id),
            Target::Addr(_) => None,
        }
    }

    /// Calls `method` on the connection and waits for its result, up to the server's request
    /// timeout.
    ///
    /// # Errors
    /// [`Error::Rpc`] with the client's own error object unchanged; `-32001`
    /// ([`Error::NotConnected`] or an [`Error::Rpc`] saying why) when no node has the
    /// connection, its node is gone or the backplane is unreachable; [`Error::Timeout`]
    /// (`-32002`) when it does not answer in time; `-32004` when too many cross-node calls
    /// wait already.
    pub async fn request(&self, method: &str, params: impl Serialize) -> Result<Value, Error> {
        self.request_with_timeout(method, params, self.server.request_timeout())
            .await
    }

    /// [`request`](Self::request) with its own timeout.
    ///
    /// # Errors
    /// As for [`request`](Self::request).
    pub async fn request_with_timeout(
        &self,
        method: &str,
        params: impl Serialize,
        timeout: Duration,
    ) -> Result<Value, Error> {
        decode(self.send(method, &params, timeout, false).await?)
    }

    /// Calls `method` and decodes its result as `R`: what typed stubs use.
    ///
    /// # Errors
    /// As for [`request`](Self::request), and [`Error::UnexpectedResult`] when the result does
    /// not fit `R`.
    pub async fn call<R: DeserializeOwned, P: Serialize + ?Sized>(
        &self,
        method: &str,
        params: &P,
    ) -> Result<R, Error> {
        decode(
            self.send(method, params, self.server.request_timeout(), false)
                .await?,
        )
    }

    /// Sends an event to the connection. Unlike an event on a [`Connection`], a cross-node
    /// event is acknowledged by the target's node, so a missing target is reported.
    ///
    /// # Errors
    /// `-32001` as for [`request`](Self::request).
    pub async fn publish(&self, event: &str, data: impl Serialize) -> Result<(), Error> {
        self.send(event, &data, self.server.request_timeout(), true)
            .await
            .map(drop)
    }

    /// The connection on this node this peer stands for now, if it is on this node.
    pub fn local_connection(&self) -> Option<Connection> {
        match &self.target {
            Target::ClientId(id) => self.server.latest_local_with_client_id(id),
            Target::Addr(addr) if addr.node() == self.server.node_name() => {
                self.server.open_local_connection(addr.id(), None)
            }
            Target::Addr(_) => None,
        }
    }

    /// Sends several calls to the connection as one JSON-RPC batch, wherever it is, and waits
    /// for every answer, up to the server's request timeout: one result per call, in order
    /// (what [`Connection::batch_request`] is on this node).
    ///
    /// # Errors
    /// As for [`request`](Self::request), for the batch as a whole; `-32603` when some params
    /// cannot be encoded (nothing is sent). A failed call is not an error here: it is in its
    /// own place.
    pub async fn batch_request<I, M, P>(&self, calls: I) -> Result<Vec<Result<Value, Error>>, Error>
    where
        I: IntoIterator<Item = (M, P)>,
        M: AsRef<str>,
        P: Serialize,
    {
        let calls = calls
            .into_iter()
            .map(|(method, params)| {
                let params = serde_json::value::to_raw_value(&params)
                    .map_err(|e| Error::internal(format!("cannot encode params: {e}")))?;
                Ok((method.as_ref().to_owned(), params))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(self
            .batch_raw(&calls)
            .await?
            .into_iter()
            .map(|outcome| outcome.and_then(decode))
            .collect())
    }

    /// Sends `calls` as one JSON-RPC batch to the connection by the best route (what a
    /// [`Batch`](crate::Batch) on this peer does); one outcome per call, in order, within the
    /// server's request timeout.
    pub(crate) async fn batch_raw(
        &self,
        calls: &[(String, Box<RawValue>)],
    ) -> Result<Vec<Outcome>, Error> {
        if calls.is_empty() {
            return Ok(Vec::new());
        }
        let mut last = Error::NotConnected;
        for route in self.routes().await? {
            match route {
                Route::Local(conn) => {
                    return conn.batch_raw(calls.iter().map(|(m, p)| (m, p))).await;
                }
                Route::Remote(addr) => {
                    match self
                        .remote_batch(&addr, calls, self.server.request_timeout())
                        .await
                    {
                        // Not delivered: the next (older) connection may still be there.
                        Err(Error::NotConnected) => {
                            self.forget(&addr);
                            last = Error::NotConnected;
                        }
                        other => return other,
                    }
                }
            }
        }
        Err(last)
    }

    /// Sends a call (or, with `event`, an event) by the best route; the raw result (`null` for
    /// an event).
    async fn send<P: Serialize + ?Sized>(
        &self,
        method: &str,
        params: &P,
        timeout: Duration,
        event: bool,
    ) -> Result<RawJson, Error> {
        let routes = self.routes().await?;
        let mut params_raw: Option<Box<RawValue>> = None;
        let mut last = Error::NotConnected;
        for route in routes {
            match route {
                Route::Local(conn) => {
                    return if event {
                        conn.publish(method, params)
                            .await
                            .map(|()| RawJson::from("null".to_owned()))
                    } else {
                        conn.call_raw(method, params, timeout).await
                    };
                }
                Route::Remote(addr) => {
                    let raw = match &params_raw {
                        Some(raw) => raw.clone(),
                        None => {
                            let raw = serde_json::value::to_raw_value(params).map_err(|e| {
                                Error::internal(format!("cannot encode params: {e}"))
                            })?;
                            params_raw = Some(raw.clone());
                            raw
                        }
                    };
                    match self.remote(&addr, method, raw, timeout, event).await {
                        // Not delivered: the next (older) connection may still be there.
                        Err(Error::NotConnected) => {
                            self.forget(&addr);
                            last = Error::NotConnected;
                        }
                        other => return other,
                    }
                }
            }
        }
        Err(last)
    }

    /// Removes a directory record found stale (its node or connection is gone), in the
    /// background, so later calls by this client_id do not try it again.
    fn forget(&self, addr: &ConnectionAddr) {
        let (Target::ClientId(client_id), Some(node)) = (&self.target, self.server.cluster_node())
        else {
            return;
        };
        let Some(backplane) = node.backplane().cloned() else {
            return;
        };
        let (client_id, addr) = (client_id.clone(), addr.clone());
        tokio::spawn(async move {
            if let Err(err) = backplane
                .directory_forget(&client_id, addr.node(), addr.id())
                .await
            {
                tracing::debug!(%err, "stale cluster directory record not removed");
            }
        });
    }

    /// Where to try the call, best first.
    async fn routes(&self) -> Result<Vec<Route>, Error> {
        let server = &self.server;
        let cluster = server.cluster_node();
        let local = self.local_connection();
        match (&self.target, cluster) {
            (_, None) => local
                .map(|c| vec![Route::Local(c)])
                .ok_or(Error::NotConnected),
            (Target::Addr(addr), Some(node)) => {
                if addr.node() == node.name() || addr.node() == LOCAL_NODE {
                    local
                        .map(|c| vec![Route::Local(c)])
                        .ok_or(Error::NotConnected)
                } else if node.backplane().is_none() {
                    Err(unreachable())
                } else {
                    Ok(vec![Route::Remote(addr.clone())])
                }
            }
            (Target::ClientId(client_id), Some(node)) => {
                let Some(backplane) = node.backplane() else {
                    // Backplane down: a connection on this node still works.
                    return local.map(|c| vec![Route::Local(c)]).ok_or_else(unreachable);
                };
                let mut entries = match backplane.directory_lookup(client_id).await {
                    Ok(entries) => entries,
                    Err(err) => {
                        tracing::debug!(%err, "cluster directory lookup failed");
                        return local.map(|c| vec![Route::Local(c)]).ok_or_else(unreachable);
                    }
                };
                entries.sort_by(|a, b| b.at_ms.cmp(&a.at_ms).then(b.id.cmp(&a.id)));
                let mut routes = Vec::new();
                for entry in entries {
                    if entry.node == node.name() {
                        match server.open_local_connection(entry.id, Some(client_id)) {
                            Some(conn) => routes.push(Route::Local(conn)),
                            None => self.forget(&ConnectionAddr::new(entry.node, entry.id)),
                        }
                    } else {
                        routes.push(Route::Remote(ConnectionAddr::new(entry.node, entry.id)));
                    }
                    if routes.len() == MAX_TRIES {
                        break;
                    }
                }
                if let Some(conn) = local {
                    // Not (yet) in the directory, or its record was lost with the backplane.
                    if !routes.iter().any(|r| matches!(r, Route::Local(_))) {
                        routes.push(Route::Local(conn));
                    }
                }
                if routes.is_empty() {
                    Err(Error::NotConnected)
                } else {
                    Ok(routes)
                }
            }
        }
    }

    /// One call through the backplane to connection `addr`.
    async fn remote(
        &self,
        addr: &ConnectionAddr,
        method: &str,
        params: Box<RawValue>,
        timeout: Duration,
        event: bool,
    ) -> Result<RawJson, Error> {
        let outcome = self
            .exchange(addr, timeout, |from, rid, client_id| Wire::Call {
                from,
                rid,
                id: addr.id(),
                client_id,
                method: method.to_owned(),
                params,
                timeout_ms: millis(timeout),
                event,
            })
            .await?;
        outcome.into_result()
    }

    /// One batch through the backplane to connection `addr`.
    async fn remote_batch(
        &self,
        addr: &ConnectionAddr,
        calls: &[(String, Box<RawValue>)],
        timeout: Duration,
    ) -> Result<Vec<Outcome>, Error> {
        let calls = calls
            .iter()
            .map(|(method, params)| BatchCall {
                method: method.clone(),
                params: params.clone(),
            })
            .collect();
        let outcome = self
            .exchange(addr, timeout, |from, rid, client_id| Wire::Batch {
                from,
                rid,
                id: addr.id(),
                client_id,
                calls,
                timeout_ms: millis(timeout),
            })
            .await?;
        outcome.into_batch()
    }

    /// Sends the message `make` builds (from this node's name, the request id and the
    /// client_id the call is routed by) to `addr`'s node, and waits for its answer.
    async fn exchange(
        &self,
        addr: &ConnectionAddr,
        timeout: Duration,
        make: impl FnOnce(String, u64, Option<String>) -> Wire,
    ) -> Result<ReplyOutcome, Error> {
        let node: &Arc<ClusterNode> = self.server.cluster_node().ok_or(Error::NotConnected)?;
        let backplane = node.backplane().ok_or_else(unreachable)?;
        let (tx, rx) = oneshot::channel();
        let rid = node.calls.register(tx).ok_or_else(|| {
            Error::new(
                ErrorCode::SERVER_BUSY,
                "too many cross-node calls in flight",
            )
        })?;
        // Whatever happens next, the slot is freed (and, once delivered, the call cancelled
        // on its node if nobody waits for the answer any more).
        let mut slot = Slot {
            node,
            rid,
            delivered_to: None,
        };
        let client_id = match &self.target {
            Target::ClientId(client_id) => Some(client_id.clone()),
            Target::Addr(_) => None,
        };
        let msg = wire::encode(&make(node.name().to_owned(), rid, client_id));
        let received = backplane
            .publish(vec![(Channel::Node(addr.node()), msg)])
            .await
            .map_err(|err| {
                tracing::debug!(%err, "cross-node call not published");
                unreachable()
            })?;
        if received.first().copied().unwrap_or(0) == 0 {
            // Nobody listens on that node's channel: the node is gone.
            return Err(Error::NotConnected);
        }
        slot.delivered_to = Some(addr.node());
        tokio::time::timeout(timeout + REPLY_GRACE, rx)
            .await
            .map_err(|_| Error::Timeout(timeout))?
            .map_err(|_| Error::NotConnected)
    }
}

/// Frees a pending cross-node call's slot when dropped; a call delivered and still
/// unanswered is then cancelled on the node serving it (its caller was cancelled or gave up).
struct Slot<'a> {
    node: &'a ClusterNode,
    rid: u64,
    delivered_to: Option<&'a str>,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let unanswered = self.node.calls.remove(self.rid).is_some();
        if let (true, Some(to)) = (unanswered, self.delivered_to) {
            self.node.cancel_remote(to, self.rid);
        }
    }
}

impl Peer for RemotePeer {
    /// The connection on this node, when the peer is on this node.
    fn connection(&self) -> Result<Connection, Error> {
        self.local_connection().ok_or(Error::NotConnected)
    }

    fn remote(&self) -> Option<&RemotePeer> {
        Some(self)
    }
}
