//! One node's cluster runtime: joining (retrying until the backplane answers), the bounded
//! outbox toward the backplane, the dispatcher of messages from other nodes, liveness, and the
//! directory of this node's connections by client_id.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::value::RawValue;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::{AbortHandle, JoinHandle};

use super::backplane::{Backplane, Channel, DirEntry, Inbound};
use super::wire::{self, ReplyOutcome, Target, Wire, WireEntry};
use super::{ClusterConfig, ClusterStats};
use crate::connection::Connection;
use crate::error::{Error, ErrorCode};
use crate::frame::Frame;
use crate::raw::RawJson;
use crate::server::{Server, WeakServer};

/// How often a node refreshes its liveness.
const KEEP_ALIVE_EVERY: Duration = Duration::from_secs(3);
/// How long a node counts as alive after its last refresh.
const ALIVE_TTL_SECS: u64 = 10;
/// How many messages from other nodes may wait to be dispatched.
const INBOUND_QUEUE: usize = 8192;
/// How many publishes go to the backplane in one round trip at most.
const OUTBOX_BATCH: usize = 256;
/// How many round trips one sweep for dead nodes' records may take (500 records each).
const SWEEP_PAGES: usize = 20;
/// How often a joining node tries to remove its previous run's records before it gives up.
const JOIN_FORGET_TRIES: u32 = 3;

/// Something queued toward the backplane, in order.
#[derive(Debug)]
enum Outgoing {
    Broadcast(String),
    DirAdd {
        client_id: String,
        entry: DirEntry,
    },
    DirRemove {
        client_id: String,
        id: u64,
    },
    /// A message for node `to` alone.
    Direct {
        to: String,
        msg: String,
    },
}

/// Senders waiting for answers, by request id; bounded.
#[derive(Debug)]
pub(crate) struct Waiters<T> {
    next: AtomicU64,
    max: usize,
    waiting: Mutex<HashMap<u64, T>>,
}

impl<T> Waiters<T> {
    fn new(max: usize) -> Self {
        Self {
            next: AtomicU64::new(1),
            max,
            waiting: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, T>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new request id for `tx`, or `None` when the table is full.
    pub(crate) fn register(&self, tx: T) -> Option<u64> {
        let mut waiting = self.lock();
        if waiting.len() >= self.max {
            return None;
        }
        let rid = self.next.fetch_add(1, Ordering::Relaxed);
        waiting.insert(rid, tx);
        Some(rid)
    }

    pub(crate) fn remove(&self, rid: u64) -> Option<T> {
        self.lock().remove(&rid)
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

impl<T: Clone> Waiters<T> {
    fn get(&self, rid: u64) -> Option<T> {
        self.lock().get(&rid).cloned()
    }
}

/// A presence answer: the node and its connections.
pub(crate) type PresenceAnswer = (String, Vec<WireEntry>);

#[derive(Debug, Default)]
struct Counters {
    published: AtomicU64,
    dropped: AtomicU64,
    received: AtomicU64,
    malformed: AtomicU64,
    inbound_dropped: Arc<AtomicU64>,
}

/// One node of a cluster, owned by its server.
#[derive(Debug)]
pub(crate) struct ClusterNode {
    pub(crate) config: ClusterConfig,
    backplane: OnceLock<Arc<dyn Backplane>>,
    outbox: mpsc::Sender<Outgoing>,
    outbox_rx: Mutex<Option<mpsc::Receiver<Outgoing>>>,
    inbound: Inbound,
    inbound_rx: Mutex<Option<mpsc::Receiver<String>>>,
    pub(crate) calls: Waiters<tokio::sync::oneshot::Sender<ReplyOutcome>>,
    pub(crate) presence: Waiters<mpsc::Sender<PresenceAnswer>>,
    serving: Arc<Semaphore>,
    /// The calls and batches from other nodes being served, by (caller node, request id);
    /// bounded by `serving`'s permits.
    serving_tasks: Mutex<HashMap<(String, u64), AbortHandle>>,
    counters: Counters,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A result as raw JSON to send to another node.
fn raw_value(raw: RawJson) -> Result<Box<RawValue>, Error> {
    RawValue::from_string(raw.get().to_owned())
        .map_err(|e| Error::internal(format!("bad result: {e}")))
}

/// The error of a cross-node operation while the backplane is unreachable.
pub(crate) fn unreachable() -> Error {
    Error::new(
        ErrorCode::NOT_CONNECTED,
        "the cluster backplane is unreachable",
    )
}

impl ClusterNode {
    pub(crate) fn new(config: ClusterConfig) -> Self {
        let counters = Counters::default();
        let (inbound, inbound_rx) =
            Inbound::new(INBOUND_QUEUE, Arc::clone(&counters.inbound_dropped));
        let (outbox, outbox_rx) = mpsc::channel(config.publish_queue);
        Self {
            calls: Waiters::new(config.max_remote_calls),
            presence: Waiters::new(64),
            serving: Arc::new(Semaphore::new(config.max_remote_calls)),
            serving_tasks: Mutex::default(),
            config,
            backplane: OnceLock::new(),
            outbox,
            outbox_rx: Mutex::new(Some(outbox_rx)),
            inbound,
            inbound_rx: Mutex::new(Some(inbound_rx)),
            counters,
            tasks: Mutex::default(),
        }
    }

    /// This node's name.
    pub(crate) fn name(&self) -> &str {
        &self.config.node
    }

    /// The backplane, when joined and reachable now.
    pub(crate) fn backplane(&self) -> Option<&Arc<dyn Backplane>> {
        self.backplane.get().filter(|b| b.is_connected())
    }

    /// Connects to the backplane (retrying until it answers or the server stops) and starts
    /// this node's tasks. Joining a joined node does nothing.
    pub(crate) async fn join(self: &Arc<Self>, server: &Server) -> Result<(), Error> {
        if self.backplane.get().is_some() {
            return Ok(());
        }
        let mut delay = Duration::from_millis(200);
        let backplane = loop {
            if server.is_stopped() {
                return Err(Error::Stopped);
            }
            let attempt = self.config.connect.connect(
                self.config.cluster.clone(),
                self.config.node.clone(),
                self.inbound.clone(),
            );
            match attempt.await {
                Ok(backplane) => break backplane,
                Err(err) => {
                    tracing::warn!(
                        backplane = %self.config.connect.describe(),
                        node = %self.config.node,
                        "cannot reach the cluster backplane ({err}); retrying in {delay:?}"
                    );
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
            }
        };
        if self.backplane.set(Arc::clone(&backplane)).is_err() {
            return Ok(()); // another start joined meanwhile
        }
        // Alive first, so no other node takes this one for dead meanwhile; then the records a
        // previous run under this name left (it crashed, or Redis kept them) go, before this
        // run writes its own: the outbox, which writes them, starts below.
        if let Err(err) = backplane.keep_alive(ALIVE_TTL_SECS).await {
            tracing::debug!(%err, "first cluster keep-alive failed; the loop retries");
        }
        self.forget_previous_run(backplane.as_ref()).await;
        let weak = server.downgrade();
        let outbox_rx = self
            .outbox_rx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let inbound_rx = self
            .inbound_rx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(rx) = outbox_rx {
            tasks.push(tokio::spawn(Arc::clone(self).run_outbox(rx)));
        }
        if let Some(rx) = inbound_rx {
            tasks.push(tokio::spawn(
                Arc::clone(self).run_dispatch(rx, weak.clone()),
            ));
        }
        tasks.push(tokio::spawn(Arc::clone(self).run_keep_alive(weak)));
        tasks.push(tokio::spawn(Arc::clone(self).run_sweeps()));
        drop(tasks);
        self.publish_directory(server);
        tracing::info!(
            cluster = %self.config.cluster,
            node = %self.config.node,
            backplane = %self.config.connect.describe(),
            "joined the cluster"
        );
        Ok(())
    }

    /// Removes the directory records a previous run under this node's name left, trying a few
    /// times (what is left can then only be found by the calls it fails).
    async fn forget_previous_run(&self, backplane: &dyn Backplane) {
        for attempt in 1..=JOIN_FORGET_TRIES {
            match backplane.forget_node(&self.config.node).await {
                Ok(0) => return,
                Ok(removed) => {
                    tracing::info!(
                        node = %self.config.node,
                        removed,
                        "directory records of this node's previous run removed"
                    );
                    return;
                }
                Err(err) if attempt == JOIN_FORGET_TRIES => {
                    tracing::warn!(%err, "directory records of a previous run not removed");
                }
                Err(err) => {
                    tracing::debug!(%err, "removing a previous run's records; trying again");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }

    /// Leaves the cluster and stops this node's tasks.
    pub(crate) async fn leave(&self) {
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(PoisonError::into_inner));
        tasks.iter().for_each(JoinHandle::abort);
        // Calls served for other nodes end with the node: their answers could not be sent.
        let serving = std::mem::take(&mut *self.lock_serving());
        serving.values().for_each(AbortHandle::abort);
        if let Some(backplane) = self.backplane.get() {
            let _ = tokio::time::timeout(Duration::from_secs(2), backplane.leave()).await;
        }
    }

    /// A figures snapshot.
    pub(crate) fn stats(&self) -> ClusterStats {
        let c = &self.counters;
        ClusterStats {
            node: self.config.node.clone(),
            connected: self.backplane().is_some(),
            broadcasts_published: c.published.load(Ordering::Relaxed),
            broadcasts_dropped: c.dropped.load(Ordering::Relaxed),
            messages_received: c.received.load(Ordering::Relaxed),
            messages_malformed: c.malformed.load(Ordering::Relaxed),
            messages_dropped: c.inbound_dropped.load(Ordering::Relaxed),
            remote_calls_pending: self.calls.len(),
        }
    }

    /// Queues a broadcast of `frame` (an encoded notification) for the other nodes; counts and
    /// logs it as dropped when the queue is full or the backplane down.
    pub(crate) fn publish_broadcast(&self, target: Target, frame: &Frame) {
        let joined = self.backplane.get().is_some();
        if !joined {
            return; // not started: a single node for now, nobody else to tell
        }
        let sent = self.backplane().is_some()
            && RawValue::from_string(frame.as_str().to_owned())
                .ok()
                .map(|frame| {
                    let msg = wire::encode(&Wire::Broadcast {
                        from: self.config.node.clone(),
                        target,
                        frame,
                    });
                    self.outbox.try_send(Outgoing::Broadcast(msg)).is_ok()
                })
                .unwrap_or(false);
        if !sent {
            self.count_dropped();
        }
    }

    fn count_dropped(&self) {
        let n = self.counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_power_of_two() {
            tracing::warn!(
                dropped = n,
                "cluster broadcast dropped (queue full or backplane unreachable)"
            );
        }
    }

    /// Records a new local connection in the directory.
    pub(crate) fn connection_opened(&self, conn: &Connection) {
        let client_id = conn.meta().client_id();
        if client_id.is_empty() || self.backplane.get().is_none() {
            return;
        }
        let entry = DirEntry {
            node: self.config.node.clone(),
            id: conn.id().as_u64(),
            at_ms: now_ms(),
        };
        let _ = self.outbox.try_send(Outgoing::DirAdd {
            client_id: client_id.to_owned(),
            entry,
        });
    }

    /// Removes a closed local connection from the directory.
    pub(crate) fn connection_closed(&self, conn: &Connection) {
        let client_id = conn.meta().client_id();
        if client_id.is_empty() || self.backplane.get().is_none() {
            return;
        }
        let _ = self.outbox.try_send(Outgoing::DirRemove {
            client_id: client_id.to_owned(),
            id: conn.id().as_u64(),
        });
    }

    /// Writes every local connection into the directory (after joining or a reconnect: the
    /// backplane may have lost them).
    fn publish_directory(&self, server: &Server) {
        server.for_each_connection(|conn| self.connection_opened(conn));
    }

    /// Sends what is queued, in order; publishes go out in batches of one round trip.
    async fn run_outbox(self: Arc<Self>, mut rx: mpsc::Receiver<Outgoing>) {
        let mut batch = Vec::with_capacity(OUTBOX_BATCH);
        while rx.recv_many(&mut batch, OUTBOX_BATCH).await > 0 {
            let mut publishes = Vec::new();
            for item in batch.drain(..) {
                match item {
                    Outgoing::Broadcast(msg) => publishes.push((Channel::All, msg)),
                    Outgoing::Direct { to, msg } => {
                        self.flush(&mut publishes).await;
                        self.publish_direct(&to, msg).await;
                    }
                    other => {
                        self.flush(&mut publishes).await;
                        self.directory_op(other).await;
                    }
                }
            }
            self.flush(&mut publishes).await;
        }
    }

    async fn flush(&self, publishes: &mut Vec<(Channel<'static>, String)>) {
        if publishes.is_empty() {
            return;
        }
        let n = publishes.len() as u64;
        let Some(backplane) = self.backplane() else {
            publishes.clear();
            (0..n).for_each(|_| self.count_dropped());
            return;
        };
        match backplane.publish(std::mem::take(publishes)).await {
            Ok(_) => {
                self.counters.published.fetch_add(n, Ordering::Relaxed);
            }
            Err(err) => {
                tracing::warn!(%err, count = n, "cluster broadcasts not published");
                (0..n).for_each(|_| self.count_dropped());
            }
        }
    }

    async fn directory_op(&self, op: Outgoing) {
        let Some(backplane) = self.backplane() else {
            return; // written again from the table after the reconnect
        };
        let result = match &op {
            Outgoing::DirAdd { client_id, entry } => {
                backplane.directory_add(client_id, entry).await
            }
            Outgoing::DirRemove { client_id, id } => {
                backplane.directory_remove(client_id, *id).await
            }
            Outgoing::Broadcast(_) | Outgoing::Direct { .. } => Ok(()),
        };
        if let Err(err) = result {
            tracing::warn!(%err, "cluster directory not updated");
        }
    }

    /// Refreshes liveness; after a lost link writes the directory again (a restarted Redis
    /// starts empty).
    async fn run_keep_alive(self: Arc<Self>, server: WeakServer) {
        let Some(backplane) = self.backplane.get().cloned() else {
            return;
        };
        let mut healthy = true;
        let mut written_at = backplane.losses();
        loop {
            let losses = backplane.losses();
            match backplane.keep_alive(ALIVE_TTL_SECS).await {
                Ok(was_alive) => {
                    // After a lost link, or a stall long enough for the other nodes to remove
                    // this node's records, write them again.
                    if losses != written_at || !was_alive {
                        tracing::info!(node = %self.config.node, "back in the cluster");
                        if let Some(server) = server.upgrade() {
                            self.publish_directory(&server);
                        }
                        written_at = losses;
                    }
                    healthy = true;
                }
                Err(err) => {
                    if healthy {
                        tracing::warn!(%err, "cluster keep-alive failed; retrying");
                    }
                    healthy = false;
                }
            }
            // While the link is down, look again soon, so the node resumes quickly.
            let until = tokio::time::Instant::now() + KEEP_ALIVE_EVERY;
            while tokio::time::Instant::now() < until {
                tokio::time::sleep(Duration::from_millis(250)).await;
                if !healthy || backplane.losses() != written_at {
                    break;
                }
            }
            if !healthy {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }

    /// Removes the records of nodes that died without leaving, a bounded amount each period,
    /// apart from the keep-alive so a long sweep never delays it.
    async fn run_sweeps(self: Arc<Self>) {
        loop {
            tokio::time::sleep(KEEP_ALIVE_EVERY).await;
            if let Some(backplane) = self.backplane() {
                if let Err(err) = backplane.sweep_dead_nodes(SWEEP_PAGES).await {
                    tracing::debug!(%err, "dead nodes not swept this time");
                }
            }
        }
    }

    /// Handles messages from other nodes.
    async fn run_dispatch(self: Arc<Self>, mut rx: mpsc::Receiver<String>, server: WeakServer) {
        while let Some(text) = rx.recv().await {
            self.counters.received.fetch_add(1, Ordering::Relaxed);
            let msg = match wire::decode(&text) {
                Ok(msg) => msg,
                Err(err) => {
                    self.counters.malformed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%err, len = text.len(), "malformed cluster message dropped");
                    continue;
                }
            };
            let Some(server) = server.upgrade() else {
                return;
            };
            self.dispatch(msg, &server);
        }
    }

    fn dispatch(self: &Arc<Self>, msg: Wire, server: &Server) {
        match msg {
            Wire::Broadcast {
                from,
                target,
                frame,
            } => {
                if from != self.config.node {
                    let frame = Frame::from(String::from(Box::<str>::from(frame)));
                    server.deliver_local(&frame, &target);
                }
            }
            Wire::Call {
                from,
                rid,
                id,
                client_id,
                method,
                params,
                timeout_ms,
                event,
            } => {
                let target = (id, client_id.as_deref());
                self.serve(server, from, rid, target, move |conn| async move {
                    if event {
                        ReplyOutcome::from_result(
                            conn.publish(&method, &params).await.map(|()| {
                                RawValue::from_string("null".to_owned()).unwrap_or_default()
                            }),
                        )
                    } else {
                        let timeout = Duration::from_millis(timeout_ms);
                        ReplyOutcome::from_result(
                            conn.call_raw(&method, &params, timeout)
                                .await
                                .and_then(raw_value),
                        )
                    }
                });
            }
            Wire::Batch {
                from,
                rid,
                id,
                client_id,
                calls,
                timeout_ms,
            } => {
                let target = (id, client_id.as_deref());
                self.serve(server, from, rid, target, move |conn| async move {
                    let timeout = Duration::from_millis(timeout_ms);
                    let calls = calls.iter().map(|c| (c.method.as_str(), &c.params));
                    match tokio::time::timeout(timeout, conn.batch_raw(calls)).await {
                        Err(_) => ReplyOutcome::from_result(Err(Error::Timeout(timeout))),
                        Ok(Err(err)) => ReplyOutcome::from_result(Err(err)),
                        Ok(Ok(outcomes)) => ReplyOutcome::Batch(
                            outcomes
                                .into_iter()
                                .map(|o| ReplyOutcome::from_result(o.and_then(raw_value)))
                                .collect(),
                        ),
                    }
                });
            }
            Wire::Reply { rid, outcome } => {
                if let Some(tx) = self.calls.remove(rid) {
                    let _ = tx.send(outcome);
                }
            }
            Wire::Cancel { from, rid } => {
                // Unknown or already answered: nothing to do.
                if let Some(task) = self.lock_serving().remove(&(from, rid)) {
                    task.abort();
                }
            }
            Wire::PresenceQuery { from, rid, role } => {
                if from == self.config.node {
                    return;
                }
                let entries = super::presence::local_entries(server, role.as_deref());
                let msg = wire::encode(&Wire::PresenceReply {
                    from: self.config.node.clone(),
                    rid,
                    entries,
                });
                self.send_direct(from, msg);
            }
            Wire::PresenceReply { from, rid, entries } => {
                if let Some(tx) = self.presence.get(rid) {
                    let _ = tx.try_send((from, entries));
                }
            }
        }
    }

    /// Sends an answer to node `to`, in the background.
    fn reply(self: &Arc<Self>, to: String, rid: u64, outcome: ReplyOutcome) {
        let msg = wire::encode(&Wire::Reply { rid, outcome });
        self.send_direct(to, msg);
    }

    fn send_direct(self: &Arc<Self>, to: String, msg: String) {
        let node = Arc::clone(self);
        tokio::spawn(async move { node.publish_direct(&to, msg).await });
    }

    async fn publish_direct(&self, to: &str, msg: String) {
        if let Some(backplane) = self.backplane() {
            if let Err(err) = backplane.publish(vec![(Channel::Node(to), msg)]).await {
                tracing::warn!(%err, node = %to, "cluster message to one node not sent");
            }
        }
    }

    /// Tells node `to` that nobody waits for the answer to call `rid` any more (from a drop:
    /// queued, never awaited; dropped with a log line when the outbox is full).
    pub(crate) fn cancel_remote(&self, to: &str, rid: u64) {
        let msg = wire::encode(&Wire::Cancel {
            from: self.config.node.clone(),
            rid,
        });
        let direct = Outgoing::Direct {
            to: to.to_owned(),
            msg,
        };
        if self.outbox.try_send(direct).is_err() {
            tracing::debug!(node = %to, rid, "cluster outbox full; cancellation not sent");
        }
    }

    /// Serves a call or batch `rid` from node `from` for `target` (a connection id of this
    /// node, and the client_id it must have): answers `Busy` past the serving limit, `Gone`
    /// without such a connection, and otherwise what `work` returns for the connection, run in
    /// its own task, which [`Wire::Cancel`] and [`leave`](Self::leave) abort.
    fn serve<Work, Fut>(
        self: &Arc<Self>,
        server: &Server,
        from: String,
        rid: u64,
        target: (u64, Option<&str>),
        work: Work,
    ) where
        Work: FnOnce(Connection) -> Fut,
        Fut: Future<Output = ReplyOutcome> + Send + 'static,
    {
        let Ok(permit) = Arc::clone(&self.serving).try_acquire_owned() else {
            self.reply(from, rid, ReplyOutcome::Busy);
            return;
        };
        let Some(conn) = server.open_local_connection(target.0, target.1) else {
            self.reply(from, rid, ReplyOutcome::Gone);
            return;
        };
        let work = work(conn);
        let node = Arc::clone(self);
        let key = (from.clone(), rid);
        // Locked across the spawn: the task cannot remove its entry before it is there.
        let mut serving = self.lock_serving();
        let task = tokio::spawn(async move {
            let _permit = permit;
            let outcome = work.await;
            node.lock_serving().remove(&(from.clone(), rid));
            node.reply(from, rid, outcome);
        });
        serving.insert(key, task.abort_handle());
    }

    fn lock_serving(&self) -> std::sync::MutexGuard<'_, HashMap<(String, u64), AbortHandle>> {
        self.serving_tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
