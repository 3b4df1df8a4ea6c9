//! Configuring a [`Client`] before it connects.

use std::time::Duration;

use crate::backoff::Backoff;
use crate::client::Client;
use crate::config::{DEFAULT_CONNECT_TIMEOUT, Settings};
use crate::settings_surface::settings_surface;

/// Builds a [`Client`]: the server's URL, who it says it is, timing, reconnects and limits.
///
/// ```
/// use std::time::Duration;
/// use echorpc::{Backoff, Client};
///
/// let client = Client::builder("ws://127.0.0.1:9100")
///     .token("secret")
///     .role("worker")
///     .client_id("w-1")
///     .request_timeout(Duration::from_secs(5))
///     .reconnect(Backoff::new(Duration::from_millis(100), Duration::from_secs(2)))
///     .build();
/// assert!(!client.is_connected());
/// ```
#[must_use]
pub struct ClientBuilder {
    /// The server's URLs, tried in turn (never empty).
    pub(crate) urls: Vec<String>,
    pub(crate) token: String,
    pub(crate) role: String,
    pub(crate) client_id: String,
    pub(crate) connect_timeout: Duration,
    pub(crate) reconnect: Option<Backoff>,
    pub(crate) settings: Settings,
    /// Extra headers of the upgrade request (values may be secrets: never shown).
    pub(crate) headers: Vec<(String, String)>,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::tls::ClientTls>,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let token = if self.token.is_empty() {
            ""
        } else {
            crate::connection::REDACTED
        };
        f.debug_struct("ClientBuilder")
            .field(
                "urls",
                &self
                    .urls
                    .iter()
                    .map(|url| crate::client::dial::without_query(url))
                    .collect::<Vec<_>>(),
            )
            .field("token", &token)
            .field("role", &self.role)
            .field("client_id", &self.client_id)
            .field("connect_timeout", &self.connect_timeout)
            .field("reconnect", &self.reconnect)
            .field("settings", &self.settings)
            .field(
                "headers",
                &self
                    .headers
                    .iter()
                    .map(|(name, _)| name)
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    pub(crate) fn new(url: String) -> Self {
        Self {
            urls: vec![url],
            token: String::new(),
            role: "web".to_owned(),
            client_id: String::new(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            reconnect: Some(Backoff::default()),
            settings: Settings::default(),
            headers: Vec::new(),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// Adds another URL of the same service, such as another node of a cluster without a load
    /// balancer. The client dials the URLs in turn: a failed attempt, or a reconnect after the
    /// connection dropped, moves on to the next one (back to the first after the last), so a
    /// node that went away is left for one that is up.
    ///
    /// ```
    /// use echorpc::Client;
    ///
    /// let client = Client::builder("ws://10.0.0.1:9100")
    ///     .alternate_url("ws://10.0.0.2:9100")
    ///     .alternate_url("ws://10.0.0.3:9100")
    ///     .build();
    /// # drop(client);
    /// ```
    pub fn alternate_url(mut self, url: impl Into<String>) -> Self {
        self.urls.push(url.into());
        self
    }

    /// Adds a header to the upgrade request, e.g. `Authorization: Bearer …` for a server that
    /// reads it (see [`AuthRequest::headers`](crate::AuthRequest::headers)). The `token` query
    /// parameter is still sent as the reference does. The value is never logged; an invalid
    /// name or value makes [`Client::connect`] fail with [`Error::Connect`](crate::Error::Connect).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// What the client trusts when the URL is `wss://`; default [`ClientTls::new`]
    /// (Mozilla's roots, and the platform's with the `tls-native-roots` feature).
    ///
    /// [`ClientTls::new`]: crate::tls::ClientTls::new
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls(mut self, tls: crate::tls::ClientTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// The `token` sent to the server's auth handler; default none.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = token.into();
        self
    }

    /// The `role` sent to the server; default `"web"`.
    pub fn role(mut self, role: impl Into<String>) -> Self {
        self.role = role.into();
        self
    }

    /// The `client_id` sent to the server; default none.
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = client_id.into();
        self
    }

    /// How long [`Client::connect`] keeps trying; default 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Reconnect after an unexpected close with these delays; default 1 s doubling to 5 s.
    pub fn reconnect(mut self, backoff: Backoff) -> Self {
        self.reconnect = Some(backoff);
        self
    }

    /// Never reconnect: a dropped connection stays dropped until [`Client::connect`].
    pub fn no_reconnect(mut self) -> Self {
        self.reconnect = None;
        self
    }

    /// The client, ready for handlers to be registered and to [`connect`](Client::connect).
    pub fn build(self) -> Client {
        Client::from_builder(self)
    }
}

settings_surface!(
    ClientBuilder,
    pinged: "the server",
    calls: "calls",
    limited: "message size, in-flight requests and queued frames"
);
