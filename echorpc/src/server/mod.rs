//! The server: listens, authenticates upgrades, and runs the router on every connection.

mod broadcast;
mod builder;
mod upgrade;

pub use builder::ServerBuilder;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::auth::{AuthDecision, Authenticator};
use crate::config::Settings;
use crate::connection::{CloseReason, Connection, ConnectionId, Metadata};
use crate::error::Error;
use crate::handler::{EventHandler, MethodHandler, event_fn, method_fn};
use crate::hooks::Hooks;
use crate::registry::{Registry, SubscriptionId};
use crate::ws::socket::{Role, WebSocketStream};
use upgrade::{HANDSHAKE_TIMEOUT, Refusal};

/// A JSON-RPC server over WebSocket. Cheap to clone: clones share the handlers, connections and
/// lifecycle, so handlers can capture the server to broadcast.
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
    registry: Arc<Registry>,
    hooks: Arc<Hooks>,
    connections: RwLock<HashMap<ConnectionId, Connection>>,
    /// Sockets held: handshakes in progress plus open connections.
    slots: AtomicUsize,
    running: Mutex<Option<Running>>,
    /// Flips to true when [`Server::stop`] runs.
    stopped: watch::Sender<bool>,
}

#[derive(Debug)]
struct Running {
    addr: SocketAddr,
    accept: tokio::task::JoinHandle<()>,
}

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
                registry: Arc::default(),
                hooks: Arc::default(),
                connections: RwLock::default(),
                slots: AtomicUsize::new(0),
                running: Mutex::new(None),
                stopped: watch::Sender::new(false),
            }),
        }
    }

    /// Registers a command: `handler(params, connection)` answers calls to `method` from any
    /// client. Params are parsed into `P` (`serde_json::Value` for the untyped form; a mismatch
    /// answers `-32602`), the `Ok` value is the result, and the `Err` value the error sent back.
    /// A second registration of a name replaces the first.
    ///
    /// # Errors
    /// When `method` is `ping` or `pong`, which the heartbeat reserves.
    pub fn register<F, Fut, P, R, E>(&self, method: &str, handler: F) -> Result<(), Error>
    where
        F: Fn(P, Connection) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, E>> + Send + 'static,
        P: DeserializeOwned + 'static,
        R: Serialize,
        E: Into<Error>,
    {
        self.register_handler(method, Arc::new(method_fn(handler)))
    }

    /// Registers an already type-erased method handler.
    ///
    /// # Errors
    /// As for [`register`](Self::register).
    pub fn register_handler(
        &self,
        method: &str,
        handler: Arc<dyn MethodHandler>,
    ) -> Result<(), Error> {
        self.inner.registry.add_method(method, handler)
    }

    pub(crate) fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// Removes a command; whether it was registered.
    pub fn unregister(&self, method: &str) -> bool {
        self.inner.registry.remove_method(method)
    }

    /// Subscribes to an event from any client: `handler(data, connection)` runs for each one,
    /// in the order each client sent them.
    ///
    /// # Errors
    /// When `event` is `ping` or `pong`.
    pub fn subscribe<F, Fut, P>(&self, event: &str, handler: F) -> Result<SubscriptionId, Error>
    where
        F: Fn(P, Connection) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
        P: DeserializeOwned + 'static,
    {
        self.subscribe_handler(event, Arc::new(event_fn(handler)))
    }

    /// Subscribes an already type-erased event handler.
    ///
    /// # Errors
    /// As for [`subscribe`](Self::subscribe).
    pub fn subscribe_handler(
        &self,
        event: &str,
        handler: Arc<dyn EventHandler>,
    ) -> Result<SubscriptionId, Error> {
        self.inner.registry.subscribe(event, handler)
    }

    /// Removes one subscription; whether it existed.
    pub fn unsubscribe(&self, event: &str, subscription: SubscriptionId) -> bool {
        self.inner.registry.unsubscribe(event, subscription)
    }

    /// Runs `hook` for every new connection, in a task of its own (it may call the client).
    pub fn on_connect<F, Fut>(&self, hook: F)
    where
        F: Fn(Connection) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.inner.hooks.add_on_connect(hook);
    }

    /// Runs `hook` after a connection closed, for whatever reason.
    pub fn on_disconnect<F, Fut>(&self, hook: F)
    where
        F: Fn(Connection) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.inner.hooks.add_on_disconnect(hook);
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

    fn for_each_connection(&self, mut f: impl FnMut(&Connection)) {
        let connections = self
            .inner
            .connections
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        connections.values().for_each(&mut f);
    }

    /// Binds the listener and starts accepting connections in the background; returns the bound
    /// address (useful with port 0). Starting a running server returns its address again.
    ///
    /// # Errors
    /// `-32001` with the I/O error as source when the address cannot be bound, or when the
    /// server was stopped (a stopped server does not start again).
    pub async fn start(&self) -> Result<SocketAddr, Error> {
        if *self.inner.stopped.borrow() {
            return Err(Error::new(
                crate::ErrorCode::NOT_CONNECTED,
                "server was stopped",
            ));
        }
        if let Some(addr) = self.local_addr() {
            return Ok(addr);
        }
        let listener = TcpListener::bind((self.inner.host.as_str(), self.inner.port))
            .await
            .map_err(|err| {
                Error::new(
                    crate::ErrorCode::NOT_CONNECTED,
                    format!(
                        "cannot listen on {}:{}: {err}",
                        self.inner.host, self.inner.port
                    ),
                )
                .with_source(err)
            })?;
        let addr = listener
            .local_addr()
            .map_err(|err| Error::internal(err.to_string()).with_source(err))?;
        let mut running = self
            .inner
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(already) = running.as_ref() {
            return Ok(already.addr);
        }
        let accept = tokio::spawn(accept_loop(Arc::clone(&self.inner), listener));
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

    /// Stops accepting, closes every connection (their pending calls fail with `-32001`) and
    /// waits, a few seconds at most, until they are closed.
    pub async fn stop(&self) {
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
        let connections = self.connections();
        for conn in &connections {
            conn.request_close(CloseReason::new(1001, "server stopping"));
        }
        let all_closed = futures::future::join_all(connections.iter().map(Connection::closed));
        if tokio::time::timeout(Duration::from_secs(5), all_closed)
            .await
            .is_err()
        {
            tracing::warn!("some connections did not close within 5 s of stop");
        }
        tracing::info!("server stopped");
    }
}

async fn accept_loop(inner: Arc<Inner>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                tokio::spawn(handle_socket(Arc::clone(&inner), stream, peer));
            }
            Err(err) => {
                // Usually out of file descriptors: back off instead of spinning.
                tracing::warn!(%err, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Holds one of the server's socket slots until dropped.
struct Slot<'a>(&'a AtomicUsize);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn take_slot(inner: &Inner) -> Option<Slot<'_>> {
    let max = inner.settings.limits.get_max_connections();
    inner
        .slots
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < max).then_some(n + 1)
        })
        .ok()
        .map(|_| Slot(&inner.slots))
}

async fn handle_socket(inner: Arc<Inner>, mut stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let slot = take_slot(&inner);
    let upgrade =
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, upgrade::read_upgrade(&mut stream)).await {
            Ok(Ok(upgrade)) => upgrade,
            Ok(Err(refusal)) => {
                tracing::debug!(%peer, status = refusal.status, "upgrade refused");
                return upgrade::refuse(&mut stream, refusal).await;
            }
            Err(_) => return tracing::debug!(%peer, "upgrade request timed out"),
        };
    let Some(_slot) = slot.filter(|_| !*inner.stopped.borrow()) else {
        tracing::warn!(%peer, "connection limit reached; refusing with 503");
        return upgrade::refuse(&mut stream, Refusal::BUSY).await;
    };
    let auth = upgrade.auth.clone();
    let decision = match &inner.auth {
        Some(check) => check.check(auth.clone()).await,
        None => AuthDecision::Accept,
    };
    let mut meta = Map::new();
    meta.insert("token".into(), Value::from(auth.token));
    meta.insert("role".into(), Value::from(auth.role));
    meta.insert("client_id".into(), Value::from(auth.client_id));
    match decision {
        AuthDecision::Reject => {
            tracing::info!(%peer, "auth rejected; answering 401");
            return upgrade::refuse(&mut stream, Refusal::UNAUTHORIZED).await;
        }
        AuthDecision::AcceptWith(extra) => meta.extend(extra),
        AuthDecision::Accept => {}
    }
    meta.insert("authenticated".into(), Value::Bool(true));
    if let Err(err) = upgrade::accept(&mut stream, &upgrade).await {
        return tracing::debug!(%peer, %err, "upgrade answer failed");
    }
    let socket = WebSocketStream::from_partially_read(
        stream,
        upgrade.leftover,
        Role::Server,
        Some(crate::ws::config(&inner.settings.limits)),
    )
    .await;
    let (conn, outbound) = Connection::new(Metadata::from_map(meta), inner.settings);
    let id = conn.id();
    inner
        .connections
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(id, conn.clone());
    tracing::info!(connection = %id, %peer, role = conn.meta().role(), "connection opened");
    inner.hooks.spawn_on_connect(&conn);
    let why = crate::ws::drive(socket, conn.clone(), outbound, Arc::clone(&inner.registry)).await;
    inner
        .connections
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&id);
    tracing::info!(connection = %id, %peer, why, "connection closed");
    inner.hooks.run_on_disconnect(&conn).await;
}
