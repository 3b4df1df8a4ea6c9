//! The server: its handle, start and stop, and the table of open connections. Accepting
//! sockets is [`listener`]'s job, authorizing and running a connection [`session`]'s.

mod broadcast;
mod builder;
mod listener;
#[cfg(feature = "hyper")]
mod mount;
mod session;
mod tasks;
pub(crate) mod upgrade;

pub use builder::ServerBuilder;
#[cfg(feature = "hyper")]
pub use mount::{UpgradeBody, UpgradeService};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::auth::{AuthRequest, Authenticator};
use crate::client::{Client, ClientBuilder};
use crate::cluster::ClusterNode;
use crate::config::Settings;
use crate::connection::{Connection, ConnectionId};
use crate::error::Error;
use crate::hooks::Hooks;
use crate::observe::{Counters, ServerStats};
use crate::registration::registration_surface;
use crate::registry::Registry;
use crate::transport::{Close, Transport, memory};
use tasks::Tasks;

/// How long [`Server::stop`] waits for connections to finish their close handshakes.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// How often [`Server::shutdown`] looks whether a connection's calls have been answered.
const DRAIN_POLL: Duration = Duration::from_millis(10);

/// A JSON-RPC server over WebSocket. Cheap to clone: clones share the handlers, connections and
/// lifecycle, so handlers can capture the server to broadcast ([`stop`](Self::stop) drops the
/// handlers, so such a capture does not keep a stopped server alive).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), echorpc::Error> {
/// use echorpc::{Client, Server};
/// use serde_json::{json, Value};
///
/// let server = Server::builder().host("127.0.0.1").port(0).build();
/// server.register("add", |p: Value, _conn| async move {
///     Ok::<_, echorpc::Error>(json!({ "sum": p["a"].as_i64().unwrap_or(0) + p["b"].as_i64().unwrap_or(0) }))
/// })?;
/// let addr = server.start().await?;
///
/// let client = Client::builder(format!("ws://{addr}")).build();
/// client.connect().await?;
/// assert_eq!(client.request("add", json!({ "a": 1, "b": 2 })).await?, json!({ "sum": 3 }));
/// client.disconnect().await;
/// server.stop().await;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Server {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    host: String,
    port: u16,
    auth: Option<Authenticator>,
    settings: Settings,
    /// Origins browsers may connect from; `None` allows all.
    allowed_origins: Option<Vec<String>>,
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::ServerTls>,
    counters: Counters,
    registry: Arc<Registry>,
    hooks: Arc<Hooks>,
    connections: RwLock<HashMap<ConnectionId, Connection>>,
    /// Connections held: handshakes in progress plus open connections.
    slots: AtomicUsize,
    /// Every handshake and connection task, aborted by `stop` if still running.
    tasks: Arc<Tasks>,
    running: Mutex<Option<Running>>,
    /// Flips to true when [`Server::stop`] runs.
    stopped: watch::Sender<bool>,
    /// This node's cluster runtime, when the server is in a cluster.
    cluster: Option<Arc<ClusterNode>>,
}

/// A [`Server`] that does not keep it alive.
#[derive(Debug, Clone)]
pub(crate) struct WeakServer(std::sync::Weak<Inner>);

impl WeakServer {
    /// The server, unless it was dropped.
    pub(crate) fn upgrade(&self) -> Option<Server> {
        self.0.upgrade().map(|inner| Server { inner })
    }
}

#[derive(Debug)]
struct Running {
    addr: SocketAddr,
    accept: tokio::task::JoinHandle<()>,
}

registration_surface!(Server, "any client");

impl Server {
    /// Starts configuring a server.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    fn from_builder(builder: ServerBuilder) -> Self {
        Self {
            inner: Arc::new(Inner {
                host: builder.host,
                port: builder.port,
                auth: builder.auth,
                settings: builder.settings,
                allowed_origins: builder.allowed_origins,
                #[cfg(feature = "tls")]
                tls: builder.tls,
                counters: Counters::default(),
                registry: Arc::default(),
                hooks: Arc::default(),
                connections: RwLock::default(),
                slots: AtomicUsize::new(0),
                tasks: Arc::default(),
                running: Mutex::new(None),
                stopped: watch::Sender::new(false),
                cluster: builder.cluster.map(|c| Arc::new(ClusterNode::new(c))),
            }),
        }
    }

    /// The open connections.
    pub fn connections(&self) -> Vec<Connection> {
        let mut all = Vec::new();
        self.for_each_connection(|conn| all.push(conn.clone()));
        all
    }

    /// The open connections whose metadata `role` equals `role`.
    pub fn connections_with_role(&self, role: &str) -> Vec<Connection> {
        let mut all = Vec::new();
        self.for_each_connection(|conn| {
            if conn.meta().role() == role {
                all.push(conn.clone());
            }
        });
        all
    }

    /// A snapshot of the figures an operator watches: open connections (by role), connections
    /// opened, upgrades refused by status, peers dropped for a full queue or a missed pong.
    /// With the `metrics` feature the same figures also go to the `metrics` facade.
    ///
    /// ```
    /// let server = echorpc::Server::builder().build();
    /// let stats = server.stats();
    /// assert_eq!(stats.open_connections, 0);
    /// assert_eq!(stats.connections_opened, 0);
    /// ```
    pub fn stats(&self) -> ServerStats {
        let mut stats = self.inner.counters.snapshot();
        self.for_each_connection(|conn| {
            stats.open_connections += 1;
            *stats
                .open_by_role
                .entry(conn.meta().role().to_owned())
                .or_default() += 1;
        });
        stats
    }

    pub(crate) fn for_each_connection(&self, mut f: impl FnMut(&Connection)) {
        let connections = self
            .inner
            .connections
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        connections.values().for_each(&mut f);
    }

    /// The connection of this server whose id is `id`.
    pub(crate) fn connection(&self, id: ConnectionId) -> Option<Connection> {
        let connections = self
            .inner
            .connections
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        connections.get(&id).cloned()
    }

    pub(crate) fn is_stopped(&self) -> bool {
        *self.inner.stopped.borrow()
    }

    /// This node's cluster runtime, when in a cluster.
    pub(crate) fn cluster_node(&self) -> Option<&Arc<ClusterNode>> {
        self.inner.cluster.as_ref()
    }

    /// The timeout of calls to clients.
    pub(crate) fn request_timeout(&self) -> Duration {
        self.inner.settings.request_timeout
    }

    /// A handle that does not keep the server alive (for its cluster tasks).
    pub(crate) fn downgrade(&self) -> WeakServer {
        WeakServer(Arc::downgrade(&self.inner))
    }

    /// Binds the listener and starts accepting connections in the background; returns the bound
    /// address (useful with port 0). Starting a running server returns its address again.
    ///
    /// # Errors
    /// [`Error::Bind`] when the address cannot be bound; [`Error::Stopped`] when the server was
    /// stopped (a stopped server does not start again).
    pub async fn start(&self) -> Result<SocketAddr, Error> {
        if self.is_stopped() {
            return Err(Error::Stopped);
        }
        if let Some(addr) = self.local_addr() {
            return Ok(addr);
        }
        // In a cluster, not ready (not listening) before the backplane answers.
        if let Some(cluster) = &self.inner.cluster {
            cluster.join(self).await?;
        }
        let bind_error = |source| Error::Bind {
            addr: format!("{}:{}", self.inner.host, self.inner.port),
            source: Arc::new(source),
        };
        let listener = TcpListener::bind((self.inner.host.as_str(), self.inner.port))
            .await
            .map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        let mut running = self
            .inner
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(already) = running.as_ref() {
            return Ok(already.addr);
        }
        let accept = tokio::spawn(listener::accept_loop(self.clone(), listener));
        *running = Some(Running { addr, accept });
        tracing::info!(%addr, "listening");
        Ok(addr)
    }

    /// The bound address while running.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.inner
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|r| r.addr)
    }

    /// Starts (if needed) and waits until [`stop`](Self::stop) is called.
    ///
    /// # Errors
    /// As for [`start`](Self::start).
    pub async fn serve(&self) -> Result<(), Error> {
        self.start().await?;
        let mut stopped = self.inner.stopped.subscribe();
        let _ = stopped.wait_for(|stopped| *stopped).await;
        Ok(())
    }

    /// Serves one connection over an already open `transport`, as if a client had dialled with
    /// `request`: the same auth, limits, hooks, broadcasts and connection table as the
    /// listener's connections. Returns the server's side of the connection.
    ///
    /// # Errors
    /// [`Error::AuthRejected`] when the auth handler rejects `request`; [`Error::Stopped`] after
    /// [`stop`](Self::stop); [`Error::NotConnected`] past the connection limit.
    pub async fn accept<T: Transport>(
        &self,
        transport: T,
        request: AuthRequest,
    ) -> Result<Connection, Error> {
        let slot = session::take_slot(&self.inner).ok_or(Error::NotConnected)?;
        let meta = session::authorize(&self.inner, request)
            .await
            .map_err(|_| Error::AuthRejected)?;
        if self.is_stopped() {
            return Err(Error::Stopped);
        }
        let opened = session::open(&self.inner, meta);
        let conn = opened.conn.clone();
        let server = self.clone();
        self.inner.tasks.spawn(async move {
            let _slot = slot;
            session::run(&server.inner, transport, opened, "in-process").await;
        });
        Ok(conn)
    }

    /// A [`Client`] connected to this server in-process, over
    /// [`memory::pair`](crate::transport::memory::pair): no socket, no port, the same auth,
    /// handlers and behaviour. The builder's URL is not dialled and the client does not
    /// reconnect. Made for tests of services.
    ///
    /// # Errors
    /// As for [`accept`](Self::accept).
    pub async fn connect_in_memory(&self, client: ClientBuilder) -> Result<Client, Error> {
        let client = client.no_reconnect().build();
        let (ours, theirs) = memory::pair();
        self.accept(ours, client.auth_request()).await?;
        client.connect_over(theirs).await?;
        Ok(client)
    }

    /// Stops accepting, closes every connection (their pending calls fail with
    /// [`Error::NotConnected`]), waits a few seconds at most until they are closed and their
    /// `on_disconnect` hooks have run, then stops whatever still runs and drops every handler
    /// and hook. [`shutdown`](Self::shutdown) lets calls in flight finish first.
    pub async fn stop(&self) {
        self.stop_accepting();
        for conn in &self.connections() {
            conn.request_close(Close::new(1001, "server stopping"));
        }
        self.finish_stop().await;
    }

    /// Stops gracefully within `deadline`: stops accepting (upgrades in progress are refused),
    /// then closes each connection with 1001 "going away" as soon as the calls in flight on it
    /// (the peer's requests to this side's handlers and this side's calls to the peer) have
    /// been answered, or when the deadline passes; runs the `on_disconnect` hooks; then stops
    /// what still runs and drops every handler and hook, as [`stop`](Self::stop) does. Calls
    /// still pending at the deadline fail with [`Error::NotConnected`].
    ///
    /// Connections served through [`accept`](Self::accept) or a hyper/axum mount are drained
    /// the same way. A stopped server does not start again.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), echorpc::Error> {
    /// use std::time::Duration;
    /// let server = echorpc::Server::builder().host("127.0.0.1").port(0).build();
    /// server.start().await?;
    /// server.shutdown(Duration::from_secs(5)).await;
    /// assert!(server.local_addr().is_none());
    /// # Ok(()) }
    /// ```
    pub async fn shutdown(&self, deadline: Duration) {
        let until = tokio::time::Instant::now() + deadline;
        self.stop_accepting();
        tracing::info!(?deadline, "shutting down: draining connections");
        let drains = self.connections().into_iter().map(|conn| async move {
            let idle = async {
                while conn.is_open() && (conn.requests_in_flight() > 0 || conn.pending_calls() > 0)
                {
                    tokio::time::sleep(DRAIN_POLL).await;
                }
            };
            if tokio::time::timeout_at(until, idle).await.is_err() {
                tracing::info!(connection = %conn.id(), "drain deadline passed; closing with calls in flight");
            }
            conn.request_close(Close::new(1001, "going away"));
        });
        futures::future::join_all(drains).await;
        self.finish_stop().await;
    }

    /// Flags the server stopped and stops the accept loop.
    fn stop_accepting(&self) {
        self.inner.stopped.send_replace(true);
        let running = self
            .inner
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(running) = running {
            running.accept.abort();
        }
    }

    /// Waits (bounded) for every connection task to end, then stops the rest and drops the
    /// handlers and hooks.
    async fn finish_stop(&self) {
        if tokio::time::timeout(STOP_GRACE, self.inner.tasks.until_empty())
            .await
            .is_err()
        {
            tracing::warn!("some connections did not close within 5 s of stop; stopping them");
        }
        self.inner.tasks.abort_all();
        if let Some(cluster) = &self.inner.cluster {
            cluster.leave().await;
        }
        // Handlers often capture the server (to broadcast): dropping them breaks that cycle.
        self.inner.registry.clear();
        self.inner.hooks.clear();
        tracing::info!("server stopped");
    }
}
