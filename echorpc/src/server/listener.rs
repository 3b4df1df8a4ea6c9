//! The standalone listener: accepts TCP connections, does the TLS handshake when the server
//! has a certificate, serves the HTTP upgrade with hyper through the same path as the mount
//! ([`upgrade::exchange`], then [`session::admit`]: 403 for a refused origin, 503 past the
//! connection limit, 401 on reject, auth before 101), then runs the session over the socket
//! itself (hyper's connection state is gone by then).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

use crate::net::Stream;
use crate::server::session;
use crate::server::upgrade::{self, Exchanged, HANDSHAKE_TIMEOUT};
use crate::server::{Inner, Server};
use crate::ws::WsTransport;
use crate::ws::socket::{Role, WebSocketStream};

pub(super) async fn accept_loop(server: Server, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let server_ = server.clone();
                server
                    .inner
                    .tasks
                    .spawn(handle_socket(server_, stream, peer));
            }
            Err(err) => {
                // Usually out of file descriptors: back off instead of spinning.
                tracing::warn!(%err, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// The TLS handshake when the server has a certificate; `None` when the peer failed it
/// (logged).
async fn tls(inner: &Inner, tcp: TcpStream, peer: SocketAddr) -> Option<Stream> {
    #[cfg(feature = "tls")]
    if let Some(tls) = &inner.tls {
        return match tls.acceptor().accept(tcp).await {
            Ok(tls) => Some(Stream::TlsServer(Box::new(tls))),
            Err(err) => {
                tracing::info!(%peer, %err, "TLS handshake failed");
                None
            }
        };
    }
    let _ = (inner, peer);
    Some(Stream::Plain(tcp))
}

async fn handle_socket(server: Server, tcp: TcpStream, peer: SocketAddr) {
    // The handshake's futures (TLS, the upgrade request, auth) are boxed and freed once it is
    // over, so the task that then runs the connection for hours is no bigger than it needs.
    let Some(accepted) = Box::pin(accept_upgrade(&server, tcp, peer)).await else {
        return;
    };
    let Accepted {
        socket,
        opened,
        slot: _slot,
    } = accepted;
    session::run(
        &server.inner,
        WsTransport::new(socket),
        opened,
        &peer.to_string(),
    )
    .await;
}

/// A socket past its upgrade, its connection in the table, and the slot it holds.
struct Accepted {
    socket: WebSocketStream<Stream>,
    opened: session::Opened,
    slot: session::Slot,
}

/// TLS, the upgrade request, admission and the 101 answer (hyper, through
/// [`upgrade::exchange`]); `None` when refused (answered) or the peer left.
async fn accept_upgrade(server: &Server, tcp: TcpStream, peer: SocketAddr) -> Option<Accepted> {
    let inner = &server.inner;
    let _ = tcp.set_nodelay(true);
    // Taken before TLS, so handshakes in progress count against the connection limit.
    let slot = session::take_slot(inner);
    let mut stopped = inner.stopped.subscribe();
    let handshake = async {
        let stream = tls(inner, tcp, peer).await?;
        Some(upgrade::exchange(inner, stream, Some(peer), slot).await)
    };
    let exchanged = tokio::select! {
        exchanged = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake) => exchanged,
        // A handshake does not hold up `stop`.
        _ = stopped.wait_for(|stopped| *stopped) => return None,
    };
    let (stream, leftover, slot, meta) = match exchanged {
        Ok(Some(Exchanged::Upgraded {
            io,
            leftover,
            slot,
            meta,
        })) => (io, leftover, slot, meta),
        // Refusals and malformed requests are answered, counted and logged by the exchange.
        Ok(Some(Exchanged::Refused(_) | Exchanged::Unread(_)) | None) => return None,
        Err(_) => {
            tracing::debug!(%peer, "upgrade request timed out");
            return None;
        }
    };
    let socket = WebSocketStream::from_partially_read(
        stream,
        leftover,
        Role::Server,
        Some(crate::ws::config(&inner.settings.limits)),
    )
    .await;
    let opened = session::open(inner, meta);
    Some(Accepted {
        socket,
        opened,
        slot,
    })
}
