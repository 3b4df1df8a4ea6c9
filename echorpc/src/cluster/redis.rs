//! The Redis backplane (feature `redis`), on redis-rs's `ConnectionManager`: one multiplexed
//! RESP3 connection per node carries commands and the node's subscriptions, reconnects by itself
//! with backoff and subscribes again after a reconnect.
//!
//! Keys and channels, with `C` the cluster name and `N` a node name:
//!
//! | name | kind | what |
//! |---|---|---|
//! | `echorpc:{C}:all` | channel | broadcasts and presence queries, read by every node |
//! | `echorpc:{C}:node:N` | channel | calls to node `N` and the answers it is sent |
//! | `echorpc:{C}:nodes:N` | string with a TTL | node `N` is alive while it exists |
//! | `echorpc:{C}:nodes` | set | names of the nodes that may be alive (a dead one leaves once its records are gone) |
//! | `echorpc:{C}:clients:ID` | hash | connections of client_id `ID`: field `N|conn`, value opened-at ms |
//! | `echorpc:{C}:conns:N` | hash | node `N`'s index of those records: field `conn`, value the client_id |
//!
//! A dead node's records are removed one page at a time by a Lua script that first checks the
//! node is still dead, so a node that comes back under the same name never loses the records it
//! writes on its return.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{PushInfo, PushKind, Value};

use super::backplane::{Backplane, BackplaneError, Channel, Connect, DirEntry, Inbound};

/// How long one Redis operation may take before it counts as failed.
const OP_TIMEOUT: Duration = Duration::from_secs(2);
/// How many directory records are read and removed per round trip.
const FORGET_PAGE: usize = 500;

/// Removes one page of node `N`'s directory records and their index entries, atomically.
/// KEYS: `N`'s index, `N`'s liveness key, the member set. ARGV: the HSCAN cursor, the page
/// size, the prefix of client keys, `N`, and `1` to act only while `N` is dead (and then, once
/// its index is empty, to take `N` out of the member set). Returns the next cursor (`0` when
/// done, `alive` when `N` turned out to be alive) and how many records went. Every key shares
/// the cluster's hash tag, so this runs on Redis Cluster too.
const FORGET_PAGE_SCRIPT: &str = r"
if ARGV[5] == '1' and redis.call('EXISTS', KEYS[2]) == 1 then
  return {'alive', 0}
end
local page = redis.call('HSCAN', KEYS[1], ARGV[1], 'COUNT', ARGV[2])
local entries = page[2]
for i = 1, #entries, 2 do
  redis.call('HDEL', ARGV[3] .. entries[i + 1], ARGV[4] .. '|' .. entries[i])
  redis.call('HDEL', KEYS[1], entries[i])
end
if page[1] == '0' and ARGV[5] == '1' then
  redis.call('SREM', KEYS[3], ARGV[4])
end
return {page[1], #entries / 2}
";

/// What one page of [`FORGET_PAGE_SCRIPT`] did.
enum ForgetPage {
    /// Records removed; more may follow from `next` (`0`: none).
    Removed { next: u64, count: usize },
    /// The node is alive: nothing was touched.
    Alive,
}

/// Opens Redis backplanes at one URL.
#[derive(Debug, Clone)]
pub(crate) struct RedisConnect {
    url: String,
}

impl RedisConnect {
    pub(crate) fn new(url: String) -> Self {
        Self { url }
    }

    /// The URL with RESP3 asked for (push messages need it).
    fn resp3_url(&self) -> String {
        if self.url.contains("protocol=") {
            self.url.clone()
        } else if self.url.contains('?') {
            format!("{}&protocol=resp3", self.url)
        } else {
            format!("{}/?protocol=resp3", self.url.trim_end_matches('/'))
        }
    }
}

impl Connect for RedisConnect {
    fn connect(
        &self,
        cluster: String,
        node: String,
        inbound: Inbound,
    ) -> BoxFuture<'static, Result<Arc<dyn Backplane>, BackplaneError>> {
        let url = self.resp3_url();
        async move {
            let client = redis::Client::open(url.as_str()).map_err(redis_error)?;
            let connected = Arc::new(AtomicBool::new(false));
            let losses = Arc::new(AtomicU64::new(0));
            let flag = Arc::clone(&connected);
            let lost = Arc::clone(&losses);
            let push = move |info: PushInfo| -> Result<(), std::convert::Infallible> {
                match info.kind {
                    PushKind::Disconnection => {
                        lost.fetch_add(1, Ordering::AcqRel);
                        if flag.swap(false, Ordering::AcqRel) {
                            tracing::warn!("lost the connection to redis; reconnecting");
                        }
                    }
                    PushKind::Message | PushKind::SMessage => match info.data.into_iter().nth(1) {
                        Some(Value::BulkString(bytes)) => match String::from_utf8(bytes) {
                            Ok(text) => inbound.deliver(text),
                            Err(_) => tracing::warn!("cluster message is not utf-8; dropped"),
                        },
                        _ => tracing::warn!("cluster push without a payload; dropped"),
                    },
                    _ => {}
                }
                Ok(())
            };
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(Duration::from_secs(1)))
                .set_response_timeout(Some(OP_TIMEOUT))
                .set_number_of_retries(1)
                .set_min_delay(Duration::from_millis(100))
                .set_max_delay(Duration::from_secs(1))
                .set_push_sender(push)
                .set_automatic_resubscription();
            let manager = tokio::time::timeout(
                OP_TIMEOUT,
                ConnectionManager::new_with_config(client, config),
            )
            .await
            .map_err(|_| BackplaneError("timed out connecting to redis".into()))?
            .map_err(redis_error)?;
            let names = Names::new(&cluster, &node);
            let backplane = RedisBackplane {
                manager,
                names,
                node,
                connected,
                losses,
                subscribed_at: AtomicU64::new(0),
            };
            backplane.subscribe().await?;
            backplane.connected.store(true, Ordering::Release);
            Ok(Arc::new(backplane) as Arc<dyn Backplane>)
        }
        .boxed()
    }

    fn describe(&self) -> String {
        // Leave out a password: `redis://user:secret@host` → `redis://host`.
        match self.url.split_once("://") {
            Some((scheme, rest)) => {
                let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
                format!("{scheme}://{host}")
            }
            None => "redis".to_owned(),
        }
    }
}

/// The Redis names of one node's cluster.
#[derive(Debug)]
struct Names {
    prefix: String,
    all: String,
    own: String,
    alive: String,
    nodes: String,
}

impl Names {
    fn new(cluster: &str, node: &str) -> Self {
        // `{cluster}` is a hash tag: every key and channel of a cluster maps to one slot.
        let prefix = format!("echorpc:{{{cluster}}}");
        Self {
            all: format!("{prefix}:all"),
            own: format!("{prefix}:node:{node}"),
            alive: format!("{prefix}:nodes:{node}"),
            nodes: format!("{prefix}:nodes"),
            prefix,
        }
    }

    fn node_channel(&self, node: &str) -> String {
        format!("{}:node:{node}", self.prefix)
    }

    fn alive_key(&self, node: &str) -> String {
        format!("{}:nodes:{node}", self.prefix)
    }

    fn client_key(&self, client_id: &str) -> String {
        format!("{}{client_id}", self.client_prefix())
    }

    fn client_prefix(&self) -> String {
        format!("{}:clients:", self.prefix)
    }

    /// The index of a node's directory records: field the connection id, value its client_id.
    fn conns_key(&self, node: &str) -> String {
        format!("{}:conns:{node}", self.prefix)
    }
}

/// A directory record's field in a client's hash: the node and the connection id there.
fn record_field(node: &str, id: impl std::fmt::Display) -> String {
    format!("{node}|{id}")
}

/// One node's Redis link.
struct RedisBackplane {
    manager: ConnectionManager,
    names: Names,
    node: String,
    connected: Arc<AtomicBool>,
    /// Links lost so far.
    losses: Arc<AtomicU64>,
    /// `losses` when the node last subscribed.
    subscribed_at: AtomicU64,
}

impl std::fmt::Debug for RedisBackplane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackplane")
            .field("node", &self.node)
            .field("connected", &self.is_connected())
            .finish_non_exhaustive()
    }
}

fn redis_error(err: redis::RedisError) -> BackplaneError {
    BackplaneError(format!("redis: {err}"))
}

impl RedisBackplane {
    /// Runs `pipe` within [`OP_TIMEOUT`], keeping the connected flag up to date.
    async fn run<T: redis::FromRedisValue>(
        &self,
        pipe: &redis::Pipeline,
    ) -> Result<T, BackplaneError> {
        let mut conn = self.manager.clone();
        let result = tokio::time::timeout(OP_TIMEOUT, pipe.query_async::<T>(&mut conn)).await;
        match result {
            Ok(Ok(value)) => {
                if !self.connected.swap(true, Ordering::AcqRel) {
                    tracing::info!("connected to redis again");
                }
                Ok(value)
            }
            Ok(Err(err)) => {
                if err.is_io_error() || err.is_connection_dropped() || err.is_timeout() {
                    self.connected.store(false, Ordering::Release);
                }
                Err(redis_error(err))
            }
            Err(_) => {
                self.connected.store(false, Ordering::Release);
                Err(BackplaneError("redis did not answer in time".into()))
            }
        }
    }

    async fn subscribe(&self) -> Result<(), BackplaneError> {
        let mut conn = self.manager.clone();
        let channels = [self.names.all.as_str(), self.names.own.as_str()];
        tokio::time::timeout(OP_TIMEOUT, conn.subscribe(&channels))
            .await
            .map_err(|_| BackplaneError("redis did not answer in time".into()))?
            .map_err(redis_error)
    }

    /// A pipeline removing `node`'s record of connection `id` for `client_id`.
    fn record_removal(&self, client_id: &str, node: &str, id: u64) -> redis::Pipeline {
        let mut pipe = redis::pipe();
        pipe.cmd("HDEL")
            .arg(self.names.client_key(client_id))
            .arg(record_field(node, id))
            .ignore();
        pipe
    }

    /// The names in the member set, each with whether that node is alive now.
    async fn members(&self) -> Result<Vec<(String, bool)>, BackplaneError> {
        let mut pipe = redis::pipe();
        pipe.cmd("SMEMBERS").arg(&self.names.nodes);
        let (names,): (Vec<String>,) = self.run(&pipe).await?;
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for name in &names {
            pipe.cmd("EXISTS").arg(self.names.alive_key(name));
        }
        let alive: Vec<bool> = self.run(&pipe).await?;
        Ok(names.into_iter().zip(alive).collect())
    }

    /// Removes one page of `node`'s records (see [`FORGET_PAGE_SCRIPT`]).
    async fn forget_page(
        &self,
        node: &str,
        cursor: u64,
        only_if_dead: bool,
    ) -> Result<ForgetPage, BackplaneError> {
        let mut pipe = redis::pipe();
        pipe.cmd("EVAL")
            .arg(FORGET_PAGE_SCRIPT)
            .arg(3)
            .arg(self.names.conns_key(node))
            .arg(self.names.alive_key(node))
            .arg(&self.names.nodes)
            .arg(cursor)
            .arg(FORGET_PAGE)
            .arg(self.names.client_prefix())
            .arg(node)
            .arg(if only_if_dead { "1" } else { "0" });
        let ((next, count),): ((String, usize),) = self.run(&pipe).await?;
        if next == "alive" {
            return Ok(ForgetPage::Alive);
        }
        let next = next
            .parse()
            .map_err(|_| BackplaneError(format!("redis: unexpected cursor {next:?}")))?;
        Ok(ForgetPage::Removed { next, count })
    }

    /// Removes `node`'s records, one page per unit of `budget` (which it uses up); with
    /// `only_if_dead`, stops as soon as the node is alive. Returns how many went.
    async fn forget_pages(
        &self,
        node: &str,
        only_if_dead: bool,
        budget: &mut usize,
    ) -> Result<usize, BackplaneError> {
        let mut removed = 0;
        let mut cursor = 0;
        // Records deleted on the way do not disturb HSCAN; a sweep cut short by its budget
        // starts from cursor 0 next time and finds only what is left.
        while *budget > 0 {
            *budget -= 1;
            match self.forget_page(node, cursor, only_if_dead).await? {
                ForgetPage::Alive => break,
                ForgetPage::Removed { next, count } => {
                    removed += count;
                    if next == 0 {
                        break;
                    }
                    cursor = next;
                }
            }
        }
        Ok(removed)
    }
}

impl Backplane for RedisBackplane {
    fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    fn losses(&self) -> u64 {
        self.losses.load(Ordering::Acquire)
    }

    fn publish(
        &self,
        payloads: Vec<(Channel<'_>, String)>,
    ) -> BoxFuture<'_, Result<Vec<usize>, BackplaneError>> {
        let mut pipe = redis::pipe();
        for (channel, payload) in &payloads {
            let name = match channel {
                Channel::All => self.names.all.clone(),
                Channel::Node(node) => self.names.node_channel(node),
            };
            pipe.cmd("PUBLISH").arg(name).arg(payload.as_str());
        }
        async move { self.run::<Vec<usize>>(&pipe).await }.boxed()
    }

    fn keep_alive(&self, ttl_secs: u64) -> BoxFuture<'_, Result<bool, BackplaneError>> {
        async move {
            let losses = self.losses();
            let mut pipe = redis::pipe();
            pipe.cmd("EXISTS")
                .arg(&self.names.alive)
                .cmd("SET")
                .arg(&self.names.alive)
                .arg(1)
                .arg("EX")
                .arg(ttl_secs.max(1))
                .ignore()
                .cmd("SADD")
                .arg(&self.names.nodes)
                .arg(&self.node)
                .ignore();
            let (was_alive,): (bool,) = self.run(&pipe).await?;
            if self.subscribed_at.load(Ordering::Acquire) != losses {
                // The reconnect subscribes again by itself; doing it here too is harmless and
                // does not depend on it.
                self.subscribe().await?;
                self.subscribed_at.store(losses, Ordering::Release);
            }
            Ok(was_alive)
        }
        .boxed()
    }

    fn live_nodes(&self) -> BoxFuture<'_, Result<Vec<String>, BackplaneError>> {
        async move {
            Ok(self
                .members()
                .await?
                .into_iter()
                .filter_map(|(name, alive)| alive.then_some(name))
                .collect())
        }
        .boxed()
    }

    fn directory_add<'a>(
        &'a self,
        client_id: &'a str,
        entry: &'a DirEntry,
    ) -> BoxFuture<'a, Result<(), BackplaneError>> {
        async move {
            let mut pipe = redis::pipe();
            pipe.cmd("HSET")
                .arg(self.names.client_key(client_id))
                .arg(record_field(&entry.node, entry.id))
                .arg(entry.at_ms)
                .ignore()
                .cmd("HSET")
                .arg(self.names.conns_key(&entry.node))
                .arg(entry.id)
                .arg(client_id)
                .ignore();
            self.run::<()>(&pipe).await
        }
        .boxed()
    }

    fn directory_remove<'a>(
        &'a self,
        client_id: &'a str,
        id: u64,
    ) -> BoxFuture<'a, Result<(), BackplaneError>> {
        async move {
            let mut pipe = self.record_removal(client_id, &self.node, id);
            pipe.cmd("HDEL")
                .arg(self.names.conns_key(&self.node))
                .arg(id)
                .ignore();
            self.run::<()>(&pipe).await
        }
        .boxed()
    }

    fn directory_forget<'a>(
        &'a self,
        client_id: &'a str,
        node: &'a str,
        id: u64,
    ) -> BoxFuture<'a, Result<(), BackplaneError>> {
        async move {
            let pipe = self.record_removal(client_id, node, id);
            self.run::<()>(&pipe).await
        }
        .boxed()
    }

    fn forget_node<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<usize, BackplaneError>> {
        async move {
            let mut unlimited = usize::MAX;
            self.forget_pages(node, false, &mut unlimited).await
        }
        .boxed()
    }

    fn sweep_dead_nodes(&self, max_pages: usize) -> BoxFuture<'_, Result<usize, BackplaneError>> {
        async move {
            let members = self.members().await?;
            let dead = members
                .iter()
                .filter(|(name, alive)| !alive && *name != self.node)
                .map(|(name, _)| name);
            let mut removed = 0;
            let mut budget = max_pages;
            for name in dead {
                // The script checks again, atomically, before each page.
                let count = self.forget_pages(name, true, &mut budget).await?;
                if count > 0 {
                    tracing::info!(node = %name, removed = count, "directory records of a dead node removed");
                }
                removed += count;
            }
            Ok(removed)
        }
        .boxed()
    }

    fn directory_lookup<'a>(
        &'a self,
        client_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<DirEntry>, BackplaneError>> {
        async move {
            let mut pipe = redis::pipe();
            pipe.cmd("HGETALL").arg(self.names.client_key(client_id));
            let (fields,): (Vec<(String, String)>,) = self.run(&pipe).await?;
            let entries = fields
                .into_iter()
                .filter_map(|(field, at)| {
                    let (node, id) = field.rsplit_once('|')?;
                    Some(DirEntry {
                        node: node.to_owned(),
                        id: id.parse().ok()?,
                        at_ms: at.parse().ok()?,
                    })
                })
                .collect();
            Ok(entries)
        }
        .boxed()
    }

    fn leave(&self) -> BoxFuture<'_, ()> {
        async move {
            // Dead at once; then the records; the name leaves the member set last, so should
            // removing the records fail or time out, the other nodes remove what is left.
            let mut pipe = redis::pipe();
            pipe.cmd("DEL").arg(&self.names.alive).ignore();
            let left = async {
                self.run::<()>(&pipe).await?;
                self.forget_node(&self.node).await?;
                let mut pipe = redis::pipe();
                pipe.cmd("SREM")
                    .arg(&self.names.nodes)
                    .arg(&self.node)
                    .ignore();
                self.run::<()>(&pipe).await
            };
            if let Err(err) = left.await {
                tracing::debug!(%err, "could not leave the cluster cleanly");
            }
            // Nobody listens for this node any more: calls to it fail at once (no receiver).
            let mut conn = self.manager.clone();
            let channels = [self.names.all.as_str(), self.names.own.as_str()];
            let _ = tokio::time::timeout(OP_TIMEOUT, conn.unsubscribe(&channels)).await;
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_share_one_hash_tag() {
        let n = Names::new("prod", "a");
        assert_eq!(n.all, "echorpc:{prod}:all");
        assert_eq!(n.own, "echorpc:{prod}:node:a");
        assert_eq!(n.alive, "echorpc:{prod}:nodes:a");
        assert_eq!(n.client_key("c1"), "echorpc:{prod}:clients:c1");
        assert_eq!(n.conns_key("a"), "echorpc:{prod}:conns:a");
        assert_eq!(record_field("a", 7), "a|7");
    }

    #[test]
    fn urls_ask_for_resp3_and_logs_hide_passwords() {
        let c = RedisConnect::new("redis://:pw@127.0.0.1:6379".into());
        assert_eq!(c.resp3_url(), "redis://:pw@127.0.0.1:6379/?protocol=resp3");
        assert_eq!(c.describe(), "redis://127.0.0.1:6379");
        let c = RedisConnect::new("redis://h/0?x=1".into());
        assert_eq!(c.resp3_url(), "redis://h/0?x=1&protocol=resp3");
    }
}
