//! The auth check run during the HTTP upgrade, before any WebSocket frame.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;
use serde_json::{Map, Value};

use crate::handler::BoxFuture;

/// What a client presented when it dialled: the `token`, `role` and `client_id` query
/// parameters (`role` defaults to `"web"`, the others to `""`), and the request path.
///
/// Its `Debug` output never shows the token.
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
}

impl Default for AuthRequest {
    /// No token or client id, role `"web"`, path `/`.
    fn default() -> Self {
        Self {
            token: String::new(),
            role: "web".to_owned(),
            client_id: String::new(),
            path: "/".to_owned(),
        }
    }
}

impl std::fmt::Debug for AuthRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
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

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
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
