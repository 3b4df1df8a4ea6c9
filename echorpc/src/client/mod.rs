//! The client: dials the server, keeps the connection up, and offers calls, events and
//! handlers that survive reconnects. Reconnecting is [`supervisor`]'s job.

mod builder;
mod dial;
mod endpoints;
mod supervisor;

pub use builder::ClientBuilder;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use crate::auth::AuthRequest;
use crate::backoff::Backoff;
use crate::config::Settings;
use crate::connection::{Connection, Metadata};
use crate::error::Error;
use crate::hooks::Hooks;
use crate::registration::registration_surface;
use crate::registry::Registry;
use crate::transport::Transport;
use crate::ws::WsTransport;
use dial::{DialError, Dialer};
use endpoints::Endpoints;
use supervisor::{Phase, install, supervise};

/// A JSON-RPC client over WebSocket. Cheap to clone: clones share the connection, handlers and
/// subscriptions.
///
/// Commands registered with [`register`](Self::register) and events subscribed with
/// [`subscribe`](Self::subscribe) stay in place across reconnects. Calls in flight when the
/// connection drops fail at once with [`Error::NotConnected`].
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

struct Inner {
    /// The server URLs, dialled in turn.
    endpoints: Endpoints,
    meta: Metadata,
    /// TLS and extra headers of every dial.
    dialer: Dialer,
    connect_timeout: Duration,
    reconnect: Option<Backoff>,
    settings: Settings,
    registry: Arc<Registry>,
    hooks: Arc<Hooks>,
    current: RwLock<Option<Connection>>,
    /// Set by `disconnect`: the next close is intentional and is not followed by a reconnect.
    stopping: AtomicBool,
    stop: Notify,
    /// What the supervisor is doing; `connect` takes over only from [`Phase::Waiting`].
    phase: watch::Sender<Phase>,
    supervisor: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Serialises `connect` calls.
    connecting: tokio::sync::Mutex<()>,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("urls", &self.endpoints.shown().collect::<Vec<_>>())
            .field("meta", &self.meta)
            .field("phase", &*self.phase.borrow())
            .finish_non_exhaustive()
    }
}

registration_surface!(Client, "the server");

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
        let endpoints = Endpoints::new(&builder.urls, &query);
        let mut meta = Map::new();
        for (name, value) in query {
            meta.insert(name.into(), Value::from(value));
        }
        Self {
            inner: Arc::new(Inner {
                endpoints,
                meta: Metadata::from_map(meta),
                dialer: Dialer::new(&builder),
                connect_timeout: builder.connect_timeout,
                reconnect: builder.reconnect,
                settings: builder.settings,
                registry: Arc::default(),
                hooks: Arc::default(),
                current: RwLock::new(None),
                stopping: AtomicBool::new(false),
                stop: Notify::new(),
                phase: watch::Sender::new(Phase::Idle),
                supervisor: Mutex::new(None),
                connecting: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// What this client presents to a server's auth handler.
    pub(crate) fn auth_request(&self) -> AuthRequest {
        let headers = self.inner.dialer.headers();
        AuthRequest {
            token: self.inner.meta.token().to_owned(),
            role: self.inner.meta.role().to_owned(),
            client_id: self.inner.meta.client_id().to_owned(),
            origin: headers.get("origin").map(str::to_owned),
            headers,
            ..AuthRequest::default()
        }
    }

    /// Connects, retrying with backoff (when reconnecting is on) until the connect timeout.
    /// Once connected, the connection is kept up in the background. Connecting a connected
    /// client does nothing.
    ///
    /// While the client is between reconnect attempts, this call takes over from the
    /// background reconnects and dials at once. It never cuts short a close in progress or
    /// the `on_disconnect` hooks of the last connection: it waits for them first.
    ///
    /// # Errors
    /// [`Error::AuthRejected`] when the server answers HTTP 401 (never retried);
    /// [`Error::Connect`] at once, without retrying, when the server's TLS certificate fails
    /// verification (an unknown issuer, a name it is not valid for, expired, ...) or the URL,
    /// an upgrade header or the TLS configuration cannot be used; [`Error::Connect`] when no
    /// connection could be made in time.
    pub async fn connect(&self) -> Result<(), Error> {
        let _one_at_a_time = self.inner.connecting.lock().await;
        if !self.take_over_from_supervisor().await {
            return Ok(());
        }
        self.inner.stopping.store(false, Ordering::SeqCst);
        let deadline = Instant::now() + self.inner.connect_timeout;
        let mut backoff = self.inner.reconnect;
        let socket = loop {
            let endpoint = self.inner.endpoints.current();
            let shown = &endpoint.shown;
            let attempt = tokio::time::timeout_at(
                deadline,
                self.inner
                    .dialer
                    .dial(&endpoint.url, shown, &self.inner.settings.limits),
            )
            .await;
            let failure = match attempt {
                Ok(Ok(socket)) => break socket,
                Ok(Err(DialError::Unauthorized)) => {
                    tracing::warn!(url = %shown, "auth failed: HTTP 401");
                    return Err(Error::AuthRejected);
                }
                Ok(Err(DialError::Refused(err))) => {
                    tracing::warn!(%err, "connect refused; not retrying");
                    return Err(err);
                }
                Ok(Err(DialError::Failed(err))) => err,
                Err(_) => Error::connect(
                    shown,
                    format!("no connection within {:?}", self.inner.connect_timeout),
                ),
            };
            self.inner.endpoints.advance();
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
        self.start(WsTransport::new(socket));
        Ok(())
    }

    /// Connects over an already open `transport` (for example one end of
    /// [`memory::pair`](crate::transport::memory::pair)) instead of dialling; the connection
    /// is not re-established when it drops. Connecting a connected client does nothing.
    ///
    /// # Errors
    /// None today; the `Result` leaves room for transports that handshake.
    pub async fn connect_over<T: Transport>(&self, transport: T) -> Result<(), Error> {
        let _one_at_a_time = self.inner.connecting.lock().await;
        if !self.take_over_from_supervisor().await {
            return Ok(());
        }
        self.inner.stopping.store(false, Ordering::SeqCst);
        self.start(transport);
        Ok(())
    }

    /// Waits until no background work stands in the way of a new connection, taking over
    /// from a supervisor that waits to reconnect. `false` when the client is connected (then
    /// there is nothing to do).
    async fn take_over_from_supervisor(&self) -> bool {
        let mut phase = self.inner.phase.subscribe();
        loop {
            if self.is_connected() {
                return false;
            }
            // Only a supervisor between attempts may be stopped; the transition is atomic, so
            // it cannot have started dialling meanwhile.
            self.inner.phase.send_if_modified(|now| {
                let waiting = *now == Phase::Waiting;
                if waiting {
                    *now = Phase::TakenOver;
                }
                waiting
            });
            let now = *phase.borrow_and_update();
            match now {
                Phase::Idle => return true,
                // The supervisor leaves at once and says so with `Idle`.
                Phase::TakenOver => {}
                // A connection closing (its hooks still running) or a dial in progress: wait
                // for its outcome.
                Phase::Connected | Phase::Closing | Phase::Dialing | Phase::Waiting => {}
            }
            if phase.changed().await.is_err() {
                return true;
            }
        }
    }

    /// Runs a connection over `transport` and supervises it.
    fn start<T: Transport>(&self, transport: T) {
        let established = install(&self.inner, transport);
        let supervisor = tokio::spawn(supervise(Arc::clone(&self.inner), established));
        *self
            .inner
            .supervisor
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(supervisor);
    }

    /// Closes the connection with a close handshake and stops reconnecting. Calls in flight
    /// fail with [`Error::NotConnected`].
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
        self.connection().ok_or(Error::NotConnected)
    }

    /// Calls `method` on the server and waits for its result; see [`Connection::request`].
    ///
    /// # Errors
    /// As for [`Connection::request`]; [`Error::NotConnected`] when not connected.
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
    /// As for [`Connection::call`]; [`Error::NotConnected`] when not connected.
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
    /// As for [`Connection::batch_request`]; [`Error::NotConnected`] when not connected.
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
    /// [`Error::NotConnected`] when not connected.
    pub async fn publish(&self, event: &str, data: impl Serialize) -> Result<(), Error> {
        self.open_connection()?.publish(event, data).await
    }
}
