//! The auth check run during the HTTP upgrade, before any WebSocket frame.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;
use serde_json::{Map, Value};

use crate::handler::BoxFuture;

/// What a client presented when it dialled: the `token`, `role` and `client_id` query
/// parameters (`role` defaults to `"web"`, the others to `""`), the request path, the upgrade
/// request's headers (e.g. `Authorization`, `Cookie`), its `Origin`, and the peer's address.
///
/// Its `Debug` output never shows the token, nor the values of `Authorization`, `Cookie` and
/// other secret-bearing headers.
///
/// ```
/// use echorpc::AuthRequest;
/// let mut request = AuthRequest::default();
/// request.token = "s3cret".into();
/// assert_eq!(request.role, "web");
/// assert!(!format!("{request:?}").contains("s3cret"));
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthRequest {
    /// The `token` query parameter.
    pub token: String,
    /// The `role` query parameter, `"web"` when absent.
    pub role: String,
    /// The `client_id` query parameter.
    pub client_id: String,
    /// The request path, without the query.
    pub path: String,
    /// The upgrade request's headers; empty for connections made in-process.
    pub headers: Headers,
    /// The `Origin` header, which browsers send: see
    /// [`ServerBuilder::allowed_origins`](crate::ServerBuilder::allowed_origins).
    pub origin: Option<String>,
    /// The peer's address, when the connection came over a socket (behind an axum mount, only
    /// when the app is served with `into_make_service_with_connect_info::<SocketAddr>()`).
    pub peer_addr: Option<SocketAddr>,
}

impl Default for AuthRequest {
    /// No token or client id, role `"web"`, path `/`.
    fn default() -> Self {
        Self {
            token: String::new(),
            role: "web".to_owned(),
            client_id: String::new(),
            path: "/".to_owned(),
            headers: Headers::default(),
            origin: None,
            peer_addr: None,
        }
    }
}

impl fmt::Debug for AuthRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let token = if self.token.is_empty() {
            ""
        } else {
            crate::connection::REDACTED
        };
        f.debug_struct("AuthRequest")
            .field("token", &token)
            .field("role", &self.role)
            .field("client_id", &self.client_id)
            .field("path", &self.path)
            .field("headers", &self.headers)
            .field("origin", &self.origin)
            .field("peer_addr", &self.peer_addr)
            .finish()
    }
}

/// Headers whose values `Debug` never shows.
const SECRET_HEADERS: [&str; 5] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "sec-websocket-key",
    "x-api-key",
];

/// The headers of an upgrade request, in the order received; names are matched without
/// regard to case. `Debug` hides the values of `Authorization`, `Cookie` and the like.
///
/// ```
/// use echorpc::Headers;
/// let mut headers = Headers::new();
/// headers.append("Authorization", "Bearer s3cret");
/// assert_eq!(headers.get("authorization"), Some("Bearer s3cret"));
/// assert!(!format!("{headers:?}").contains("s3cret"));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a header (the name is stored in lowercase).
    pub fn append(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let mut name = name.into();
        name.make_ascii_lowercase();
        self.0.push((name, value.into()));
    }

    /// The first value of `name`.
    pub fn get<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.get_all(name).next()
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header as (lowercase name, value).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// How many headers there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(name, value)| {
                let shown = if SECRET_HEADERS.contains(&name.as_str()) {
                    crate::connection::REDACTED
                } else {
                    value.as_str()
                };
                (name, shown)
            }))
            .finish()
    }
}

/// An auth handler's verdict. `true`/`false`, an object of metadata, or an `Option` of one
/// convert into it, so handlers can return whichever reads best.
///
/// ```
/// use echorpc::AuthDecision;
/// use serde_json::json;
///
/// assert_eq!(AuthDecision::from(true), AuthDecision::Accept);
/// assert_eq!(AuthDecision::from(None::<serde_json::Map<String, serde_json::Value>>), AuthDecision::Reject);
/// let meta = json!({"tier": "gold"}).as_object().unwrap().clone();
/// assert_eq!(AuthDecision::from(meta.clone()), AuthDecision::AcceptWith(meta));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum AuthDecision {
    /// Accept with the standard metadata only.
    Accept,
    /// Accept, and merge these fields over the standard metadata.
    AcceptWith(Map<String, Value>),
    /// Answer the upgrade with HTTP 401.
    Reject,
}

impl From<bool> for AuthDecision {
    fn from(accept: bool) -> Self {
        if accept { Self::Accept } else { Self::Reject }
    }
}

impl From<Map<String, Value>> for AuthDecision {
    fn from(meta: Map<String, Value>) -> Self {
        Self::AcceptWith(meta)
    }
}

impl<T: Into<AuthDecision>> From<Option<T>> for AuthDecision {
    fn from(decision: Option<T>) -> Self {
        decision.map_or(Self::Reject, Into::into)
    }
}

impl<T: Into<AuthDecision>, E> From<Result<T, E>> for AuthDecision {
    /// An error rejects, as a failing handler does in the reference.
    fn from(decision: Result<T, E>) -> Self {
        decision.map_or(Self::Reject, Into::into)
    }
}

type AuthFn = dyn Fn(AuthRequest) -> BoxFuture<AuthDecision> + Send + Sync;

/// A server's auth handler, sync or async, behind one type.
#[derive(Clone)]
pub(crate) struct Authenticator(Arc<AuthFn>);

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Authenticator")
    }
}

impl Authenticator {
    pub(crate) fn sync<F, D>(check: F) -> Self
    where
        F: Fn(&AuthRequest) -> D + Send + Sync + 'static,
        D: Into<AuthDecision>,
    {
        Self(Arc::new(move |request| {
            Box::pin(std::future::ready(check(&request).into()))
        }))
    }

    pub(crate) fn from_async<F, Fut, D>(check: F) -> Self
    where
        F: Fn(AuthRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = D> + Send + 'static,
        D: Into<AuthDecision>,
    {
        Self(Arc::new(move |request| {
            let fut = check(request);
            Box::pin(async move { fut.await.into() })
        }))
    }

    /// Runs the handler; a panic rejects.
    pub(crate) async fn check(&self, request: AuthRequest) -> AuthDecision {
        let run = AssertUnwindSafe(async { (self.0)(request).await });
        match run.catch_unwind().await {
            Ok(decision) => decision,
            Err(_) => {
                tracing::error!("auth handler panicked; rejecting");
                AuthDecision::Reject
            }
        }
    }
}
