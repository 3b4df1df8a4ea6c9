//! The standalone listener: accepts TCP connections, reads and answers the HTTP upgrade
//! (auth before 101, 401 on reject, 503 past the connection limit), then runs the session.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

use crate::server::Server;
use crate::server::session;
use crate::server::upgrade::{self, HANDSHAKE_TIMEOUT, Refusal};
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

async fn handle_socket(server: Server, mut stream: TcpStream, peer: SocketAddr) {
    let inner = &server.inner;
    let _ = stream.set_nodelay(true);
    let slot = session::take_slot(inner);
    let mut stopped = inner.stopped.subscribe();
    let read = tokio::select! {
        read = tokio::time::timeout(HANDSHAKE_TIMEOUT, upgrade::read_upgrade(&mut stream)) => read,
        // A handshake does not hold up `stop`.
        _ = stopped.wait_for(|stopped| *stopped) => return,
    };
    let upgrade = match read {
        Ok(Ok(upgrade)) => upgrade,
        Ok(Err(refusal)) => {
            tracing::debug!(%peer, status = refusal.status, "upgrade refused");
            return upgrade::refuse(&mut stream, refusal).await;
        }
        Err(_) => return tracing::debug!(%peer, "upgrade request timed out"),
    };
    let Some(_slot) = slot.filter(|_| !server.is_stopped()) else {
        tracing::warn!(%peer, "connection limit reached; refusing with 503");
        return upgrade::refuse(&mut stream, Refusal::BUSY).await;
    };
    let Ok(meta) = session::authorize(inner, upgrade.auth.clone()).await else {
        tracing::info!(%peer, "auth rejected; answering 401");
        return upgrade::refuse(&mut stream, Refusal::UNAUTHORIZED).await;
    };
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
    let opened = session::open(inner, meta);
    session::run(inner, WsTransport::new(socket), opened, &peer.to_string()).await;
}
