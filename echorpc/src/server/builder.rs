//! Configuring a [`Server`] before it starts.

use std::future::Future;

use crate::auth::{AuthDecision, AuthRequest, Authenticator};
use crate::config::{DEFAULT_PORT, Settings};
use crate::server::Server;
use crate::settings_surface::settings_surface;

/// Builds a [`Server`]: where it listens, how it authenticates, its timing and its limits.
///
/// ```
/// use std::time::Duration;
/// use echorpc::{Limits, Server};
///
/// let server = Server::builder()
///     .host("127.0.0.1")
///     .port(0)
///     .auth(|req| req.token == "secret")
///     .ping_interval(Duration::from_secs(10))
///     .limits(Limits::default().with_max_connections(500))
///     .build();
/// # drop(server);
/// ```
#[derive(Debug)]
#[must_use]
pub struct ServerBuilder {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) auth: Option<Authenticator>,
    pub(crate) settings: Settings,
    pub(crate) allowed_origins: Option<Vec<String>>,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::tls::ServerTls>,
    pub(crate) cluster: Option<crate::cluster::ClusterConfig>,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        Self {
            host: "0.0.0.0".to_owned(),
            port: DEFAULT_PORT,
            auth: None,
            settings: Settings::default(),
            allowed_origins: None,
            #[cfg(feature = "tls")]
            tls: None,
            cluster: None,
        }
    }
}

impl ServerBuilder {
    /// The address to listen on; default `0.0.0.0`.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// The port to listen on; default 9100. `0` picks a free port: read it back with
    /// [`Server::local_addr`] or from [`Server::start`].
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Serves `wss://`: the standalone listener does a TLS handshake before the upgrade. (A
    /// server mounted in axum or hyper uses that stack's TLS instead.)
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls(mut self, tls: crate::tls::ServerTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// The origins browsers may connect from, e.g. `https://app.example.com` (compared without
    /// regard to case). An upgrade whose `Origin` header is not in the list is refused with HTTP
    /// 403 before the auth handler runs; requests without `Origin` (non-browser clients) are not
    /// affected. Default: every origin.
    pub fn allowed_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_origins = Some(origins.into_iter().map(Into::into).collect());
        self
    }

    /// A synchronous auth handler. It sees the dialled `token`, `role` and `client_id`, the
    /// path, headers, `Origin` and peer address (see [`AuthRequest`]), and returns anything that converts into an [`AuthDecision`]: `bool`, a metadata object, or an
    /// `Option`/`Result` of one. Without a handler every client is accepted.
    pub fn auth<F, D>(mut self, check: F) -> Self
    where
        F: Fn(&AuthRequest) -> D + Send + Sync + 'static,
        D: Into<AuthDecision>,
    {
        self.auth = Some(Authenticator::sync(check));
        self
    }

    /// An asynchronous auth handler (for a database or token-service lookup); see
    /// [`auth`](Self::auth).
    pub fn auth_async<F, Fut, D>(mut self, check: F) -> Self
    where
        F: Fn(AuthRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = D> + Send + 'static,
        D: Into<AuthDecision>,
    {
        self.auth = Some(Authenticator::from_async(check));
        self
    }

    /// Joins a cluster: broadcasts, calls to clients ([`Server::client`]) and presence
    /// ([`Server::presence`]) then span every node of it. [`Server::start`] connects to the
    /// backplane first, retrying (and logging why) until it answers, and only then listens.
    /// See [`cluster`](crate::cluster) for the semantics.
    pub fn cluster(mut self, cluster: crate::cluster::ClusterConfig) -> Self {
        self.cluster = Some(cluster);
        self
    }

    /// The server, ready for handlers to be registered and to [`start`](Server::start).
    pub fn build(self) -> Server {
        Server::from_builder(self)
    }
}

settings_surface!(
    ServerBuilder,
    pinged: "each connection",
    calls: "calls made to clients",
    limited: "message size, in-flight requests, queued frames and connections"
);
