//! The client: dials the server, keeps the connection up, and offers calls, events and
//! handlers that survive reconnects.

mod builder;
mod dial;

pub use builder::ClientBuilder;

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::backoff::Backoff;
use crate::config::Settings;
use crate::connection::{Connection, Metadata};
use crate::error::Error;
use crate::handler::{EventHandler, MethodHandler, event_fn, method_fn};
use crate::hooks::Hooks;
use crate::registry::{Registry, SubscriptionId};
use crate::ws::socket::WebSocketStream;
use dial::{DialError, dial, url_with_query};

/// A JSON-RPC client over WebSocket. Cheap to clone: clones share the connection, handlers and
/// subscriptions.
///
/// Commands registered with [`register`](Self::register) and events subscribed with
/// [`subscribe`](Self::subscribe) stay in place across reconnects. Calls in flight when the
/// connection drops fail at once with `-32001`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), echorpc::Error> {
/// use echorpc::{Client, Server};
/// use serde_json::{json, Value};
///
/// let server = Server::builder().host("127.0.0.1").port(0).build();
/// let addr = server.start().await?;
/// // The server calls the client back: clients offer commands too.
/// server.register("ask_double", |p: Value, conn| async move {
///     conn.request("double", p).await
/// })?;
///
/// let client = Client::builder(format!("ws://{addr}")).build();
/// client.register("double", |p: Value, _conn| async move {
///     Ok::<_, echorpc::Error>(json!(p["x"].as_i64().unwrap_or(0) * 2))
/// })?;
/// client.connect().await?;
/// assert_eq!(client.request("ask_double", json!({ "x": 21 })).await?, json!(42));
/// client.disconnect().await;
/// # server.stop().await;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    url: String,
    meta: Metadata,
    connect_timeout: Duration,
    reconnect: Option<Backoff>,
    settings: Settings,
    registry: Arc<Registry>,
    hooks: Arc<Hooks>,
    current: RwLock<Option<Connection>>,
    /// Set by `disconnect`: the next close is intentional and is not followed by a reconnect.
    stopping: AtomicBool,
    stop: Notify,
    supervisor: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Serialises `connect` calls.
    connecting: tokio::sync::Mutex<()>,
}

impl Client {
    /// Starts configuring a client for the server at `url` (`ws://host:port/path`).
    pub fn builder(url: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(url.into())
    }

    fn from_builder(builder: ClientBuilder) -> Self {
        let query = [
            ("token", builder.token.as_str()),
            ("role", builder.role.as_str()),
            ("client_id", builder.client_id.as_str()),
        ];
        let url = url_with_query(&builder.url, &query);
        let mut meta = Map::new();
        for (name, value) in query {
            meta.insert(name.into(), Value::from(value));
        }
        Self {
            inner: Arc::new(Inner {
                url,
                meta: Metadata::from_map(meta),
                connect_timeout: builder.connect_timeout,
                reconnect: builder.reconnect,
                settings: builder.settings,
                registry: Arc::default(),
                hooks: Arc::default(),
                current: RwLock::new(None),
                stopping: AtomicBool::new(false),
                stop: Notify::new(),
                supervisor: Mutex::new(None),
                connecting: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// Connects, retrying with backoff (when reconnecting is on) until the connect timeout.
    /// Once connected, the connection is kept up in the background. Connecting a connected
    /// client does nothing.
    ///
    /// # Errors
    /// `-32003` when the server answers HTTP 401 (never retried); `-32001` when no connection
    /// could be made in time.
    pub async fn connect(&self) -> Result<(), Error> {
        let _one_at_a_time = self.inner.connecting.lock().await;
        if self.is_connected() {
            return Ok(());
        }
        // A supervisor still waiting to reconnect would race this dial with its own: this
        // call takes over.
        let waiting = self
            .inner
            .supervisor
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(waiting) = waiting {
            waiting.abort();
        }
        self.inner.stopping.store(false, Ordering::SeqCst);
        let deadline = Instant::now() + self.inner.connect_timeout;
        let mut backoff = self.inner.reconnect;
        let socket = loop {
            let attempt = tokio::time::timeout_at(
                deadline,
                dial(&self.inner.url, &self.inner.settings.limits),
            )
            .await;
            let failure = match attempt {
                Ok(Ok(socket)) => break socket,
                Ok(Err(DialError::Unauthorized)) => {
                    tracing::warn!(url = %self.inner.url, "auth failed: HTTP 401");
                    return Err(Error::auth_failed());
                }
                Ok(Err(DialError::Failed(err))) => err,
                Err(_) => Error::new(crate::ErrorCode::NOT_CONNECTED, "connect timed out"),
            };
            let Some(delays) = backoff.as_mut() else {
                return Err(failure);
            };
            let retry_at = Instant::now() + delays.next_delay();
            if retry_at >= deadline {
                return Err(failure);
            }
            tracing::debug!(%failure, "connect failed; retrying");
            tokio::time::sleep_until(retry_at).await;
        };
        let conn = self.install(socket);
        let supervisor = tokio::spawn(supervise(Arc::clone(&self.inner), conn));
        *self
            .inner
            .supervisor
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(supervisor);
        Ok(())
    }

    /// Starts a connection over a fresh socket and makes it the current one.
    fn install(&self, socket: WebSocketStream<TcpStream>) -> Established {
        install(&self.inner, socket)
    }

    /// Closes the connection with a close handshake and stops reconnecting. Calls in flight
    /// fail with `-32001`.
    pub async fn disconnect(&self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
        self.inner.stop.notify_one();
        if let Some(conn) = self.connection() {
            conn.close().await;
        }
        let supervisor = self
            .inner
            .supervisor
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(supervisor) = supervisor {
            // It finishes its on_disconnect hooks and sees `stopping`; bounded in case a hook hangs.
            if tokio::time::timeout(Duration::from_secs(5), supervisor)
                .await
                .is_err()
            {
                tracing::warn!("client supervisor did not stop within 5 s");
            }
        }
    }

    /// Whether a connection is open now.
    pub fn is_connected(&self) -> bool {
        self.connection().is_some_and(|conn| conn.is_open())
    }

    /// The current connection, if one is open (for typed stubs and advanced use).
    pub fn connection(&self) -> Option<Connection> {
        self.inner
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .filter(Connection::is_open)
    }

    fn open_connection(&self) -> Result<Connection, Error> {
        self.connection().ok_or_else(Error::not_connected)
    }

    /// Calls `method` on the server and waits for its result; see [`Connection::request`].
    ///
    /// # Errors
    /// As for [`Connection::request`]; `-32001` when not connected.
    pub async fn request(&self, method: &str, params: impl Serialize) -> Result<Value, Error> {
        self.open_connection()?.request(method, params).await
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
        self.open_connection()?
            .request_with_timeout(method, params, timeout)
            .await
    }

    /// Calls `method` and decodes its result as `R`; see [`Connection::call`].
    ///
    /// # Errors
    /// As for [`Connection::call`]; `-32001` when not connected.
    pub async fn call<R: DeserializeOwned, P: Serialize + ?Sized>(
        &self,
        method: &str,
        params: &P,
    ) -> Result<R, Error> {
        self.open_connection()?.call(method, params).await
    }

    /// Sends several calls in one frame; see [`Connection::batch_request`].
    ///
    /// # Errors
    /// As for [`Connection::batch_request`]; `-32001` when not connected.
    pub async fn batch_request<I, M, P>(&self, calls: I) -> Result<Vec<Result<Value, Error>>, Error>
    where
        I: IntoIterator<Item = (M, P)>,
        M: AsRef<str>,
        P: Serialize,
    {
        self.open_connection()?.batch_request(calls).await
    }

    /// Sends an event to the server; see [`Connection::publish`].
    ///
    /// # Errors
    /// `-32001` when not connected.
    pub async fn publish(&self, event: &str, data: impl Serialize) -> Result<(), Error> {
        self.open_connection()?.publish(event, data).await
    }

    /// Registers a command the server can call: `handler(params, connection)`. Params are
    /// parsed into `P` (a mismatch answers `-32602`). It survives reconnects.
    ///
    /// # Errors
    /// When `method` is `ping` or `pong`.
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

    /// Subscribes to an event from the server; runs in the order the server sent them and
    /// survives reconnects.
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

    /// Removes every subscription of an event; how many there were.
    pub fn unsubscribe_all(&self, event: &str) -> usize {
        self.inner.registry.unsubscribe_all(event)
    }

    /// Runs `hook` after every successful connect and reconnect.
    pub fn on_connect<F, Fut>(&self, hook: F)
    where
        F: Fn(Connection) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.inner.hooks.add_on_connect(hook);
    }

    /// Runs `hook` after every close, intended or not.
    pub fn on_disconnect<F, Fut>(&self, hook: F)
    where
        F: Fn(Connection) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.inner.hooks.add_on_disconnect(hook);
    }
}

/// A connection started over a socket, and the future driving it.
struct Established {
    conn: Connection,
    drive: futures::future::BoxFuture<'static, String>,
}

fn install(inner: &Arc<Inner>, socket: WebSocketStream<TcpStream>) -> Established {
    let (conn, outbound) = Connection::new(inner.meta.clone(), inner.settings);
    let drive = Box::pin(crate::ws::drive(
        socket,
        conn.clone(),
        outbound,
        Arc::clone(&inner.registry),
    ));
    *inner
        .current
        .write()
        .unwrap_or_else(PoisonError::into_inner) = Some(conn.clone());
    tracing::info!(connection = %conn.id(), url = %inner.url, "connected");
    inner.hooks.spawn_on_connect(&conn);
    Established { conn, drive }
}

/// Drives the connection and, after an unexpected close, reconnects with backoff.
async fn supervise(inner: Arc<Inner>, first: Established) {
    let mut established = first;
    loop {
        let why = established.drive.await;
        tracing::info!(connection = %established.conn.id(), why, "disconnected");
        inner.hooks.run_on_disconnect(&established.conn).await;
        let Some(mut backoff) = inner.reconnect else {
            return;
        };
        established = loop {
            if inner.stopping.load(Ordering::SeqCst) {
                return;
            }
            let delay = backoff.next_delay();
            tokio::select! {
                // Cancel safe: a stop signalled meanwhile is kept as a permit.
                () = inner.stop.notified() => {}
                () = tokio::time::sleep(delay) => {}
            }
            // A stale permit from an earlier disconnect only cuts one delay short.
            if inner.stopping.load(Ordering::SeqCst) {
                return;
            }
            match dial(&inner.url, &inner.settings.limits).await {
                Ok(socket) => break install(&inner, socket),
                Err(DialError::Unauthorized) => {
                    tracing::error!(url = %inner.url, "auth failed on reconnect (HTTP 401); giving up");
                    return;
                }
                Err(failure) => {
                    tracing::debug!(err = %failure.into_error(), ?delay, "reconnect failed");
                }
            }
        };
    }
}
