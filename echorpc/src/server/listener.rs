//! The standalone listener: accepts TCP connections, does the TLS handshake when the server
//! has a certificate, reads and answers the HTTP upgrade through the shared admission path
//! ([`session::admit`]: 403 for a refused origin, 503 past the connection limit, 401 on
//! reject, auth before 101), then runs the session.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

use crate::net::Stream;
use crate::server::session;
use crate::server::upgrade::{self, HANDSHAKE_TIMEOUT, Upgrade};
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

/// TLS (when configured) and the upgrade request; `None` when the peer failed the TLS
/// handshake (logged).
async fn handshake(
    inner: &Inner,
    tcp: TcpStream,
    peer: SocketAddr,
) -> Option<(Stream, Result<Upgrade, upgrade::Refusal>)> {
    #[cfg(feature = "tls")]
    let mut stream = match &inner.tls {
        Some(tls) => match tls.acceptor().accept(tcp).await {
            Ok(tls) => Stream::TlsServer(Box::new(tls)),
            Err(err) => {
                tracing::info!(%peer, %err, "TLS handshake failed");
                return None;
            }
        },
        None => Stream::Plain(tcp),
    };
    #[cfg(not(feature = "tls"))]
    let mut stream = {
        let _ = (inner, peer);
        Stream::Plain(tcp)
    };
    let read = upgrade::read_upgrade(&mut stream).await;
    Some((stream, read))
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

/// TLS, the upgrade request, admission and the 101 answer; `None` when refused (answered).
async fn accept_upgrade(server: &Server, tcp: TcpStream, peer: SocketAddr) -> Option<Accepted> {
    let inner = &server.inner;
    let _ = tcp.set_nodelay(true);
    let slot = session::take_slot(inner);
    let mut stopped = inner.stopped.subscribe();
    let read = tokio::select! {
        read = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(inner, tcp, peer)) => read,
        // A handshake does not hold up `stop`.
        _ = stopped.wait_for(|stopped| *stopped) => return None,
    };
    let (mut stream, upgrade) = match read {
        Ok(Some((stream, Ok(upgrade)))) => (stream, upgrade),
        Ok(Some((mut stream, Err(refusal)))) => {
            inner.counters.upgrade_rejected(refusal.status);
            tracing::info!(%peer, status = refusal.status, "upgrade refused: bad upgrade request");
            upgrade::refuse(&mut stream, refusal).await;
            return None;
        }
        Ok(None) => return None,
        Err(_) => {
            tracing::debug!(%peer, "upgrade request timed out");
            return None;
        }
    };
    let mut request = upgrade.auth.clone();
    request.peer_addr = Some(peer);
    let (slot, meta) = match session::admit(inner, slot, request).await {
        Ok(admitted) => admitted,
        Err(refusal) => {
            upgrade::refuse(&mut stream, refusal).await;
            return None;
        }
    };
    if let Err(err) = upgrade::accept(&mut stream, &upgrade).await {
        tracing::debug!(%peer, %err, "upgrade answer failed");
        return None;
    }
    let socket = WebSocketStream::from_partially_read(
        stream,
        upgrade.leftover,
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
