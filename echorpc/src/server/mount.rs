//! The server mounted in an existing HTTP stack (feature `hyper`, and `axum` for the route):
//! the upgrade request comes from the application's hyper server instead of the standalone
//! listener's, and goes through the same checks ([`upgrade::read_request`]) and the same
//! answer ([`upgrade::answer`], [`session::admit`]: 403, 503, 401, auth before 101) before the
//! same session runs over the upgraded connection.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

use crate::server::{Server, session, upgrade};
use crate::ws::WsTransport;
use crate::ws::socket::{Role, WebSocketStream};

/// The response body of an upgrade answer: empty for 101, one line of text for a refusal.
pub type UpgradeBody = Full<Bytes>;

impl Server {
    /// Answers a WebSocket upgrade request that a hyper (or axum, tower) stack received: checks
    /// it, runs the origin check, the connection limit and the auth handler exactly as the
    /// standalone listener does (403, 503, 401 before any 101), and on success returns the 101
    /// answer and serves the connection once hyper hands the socket over. `peer` is what the
    /// auth handler sees as [`AuthRequest::peer_addr`](crate::AuthRequest::peer_addr).
    ///
    /// The connection must be served with upgrades enabled (hyper's
    /// `serve_connection(..).with_upgrades()`; `axum::serve` does it). The server need not be
    /// [`start`](Self::start)ed: mounted connections share its handlers, table, broadcasts,
    /// [`shutdown`](Self::shutdown) and [`stats`](Self::stats).
    #[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
    pub fn upgrade_http<B>(
        &self,
        mut request: Request<B>,
        peer: Option<SocketAddr>,
    ) -> impl Future<Output = Response<UpgradeBody>> + Send + use<B> {
        let server = self.clone();
        let checked = upgrade::read_request(&request);
        let on_upgrade = hyper::upgrade::on(&mut request);
        async move {
            let inner = &server.inner;
            let slot = session::take_slot(inner);
            let (response, admitted) = upgrade::answer(inner, checked, peer, slot).await;
            if let Some((slot, meta)) = admitted {
                let task_server = server.clone();
                server.inner.tasks.spawn(async move {
                    let _slot = slot;
                    let inner = &task_server.inner;
                    let upgraded = match on_upgrade.await {
                        Ok(upgraded) => upgraded,
                        Err(err) => return tracing::debug!(?peer, %err, "http upgrade failed"),
                    };
                    let socket = WebSocketStream::from_raw_socket(
                        TokioIo::new(upgraded),
                        Role::Server,
                        Some(crate::ws::config(&inner.settings.limits)),
                    )
                    .await;
                    let opened = session::open(inner, meta);
                    let shown = peer.map_or_else(|| "mounted".to_owned(), |p| p.to_string());
                    session::run(inner, WsTransport::new(socket), opened, &shown).await;
                });
            }
            response.map(|body| Full::new(Bytes::from(body)))
        }
    }

    /// This server as a hyper service for one connection from `peer`: every request is
    /// treated as a WebSocket upgrade (see [`upgrade_http`](Self::upgrade_http)). For a hyper
    /// stack without axum; route other paths to your own service before calling it.
    #[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
    pub fn hyper_service(&self, peer: Option<SocketAddr>) -> UpgradeService {
        UpgradeService {
            server: self.clone(),
            peer,
        }
    }

    /// This server as an axum route: `Router::new().route("/ws", server.axum_route())`. It
    /// answers `GET` upgrades as [`upgrade_http`](Self::upgrade_http) does, with the peer's
    /// address when the app is served with
    /// `into_make_service_with_connect_info::<SocketAddr>()`.
    #[cfg(feature = "axum")]
    #[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
    pub fn axum_route<S>(&self) -> axum::routing::MethodRouter<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        let server = self.clone();
        axum::routing::get(move |request: axum::extract::Request| {
            let peer = request
                .extensions()
                .get::<axum::extract::ConnectInfo<SocketAddr>>()
                .map(|info| info.0);
            server.upgrade_http(request, peer)
        })
    }
}

/// The hyper service of [`Server::hyper_service`].
#[derive(Debug, Clone)]
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
pub struct UpgradeService {
    server: Server,
    peer: Option<SocketAddr>,
}

impl<B: Send + 'static> hyper::service::Service<Request<B>> for UpgradeService {
    type Response = Response<UpgradeBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, request: Request<B>) -> Self::Future {
        let answer = self.server.upgrade_http(request, self.peer);
        Box::pin(async move { Ok(answer.await) })
    }
}
