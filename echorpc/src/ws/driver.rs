//! Runs one connection over a WebSocket: a reader that feeds the router and keeps the
//! heartbeat, and a writer that drains the outbound queue and flushes once per burst.

use std::sync::Arc;
use std::time::Duration;

use futures::stream::SplitSink;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::connection::{CloseReason, Connection, Outbound};
use crate::heartbeat::{Beat, Heartbeat};
use crate::registry::Registry;
use crate::router::Router;
use crate::ws::Frame;

/// Frames written before one flush, at most: a burst is flushed as one write.
const MAX_BURST: usize = 128;
/// How long a closing connection waits for the peer's close frame.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Drives `conn` over `socket` until either side closes it; returns why it closed.
pub(crate) async fn drive<S>(
    socket: WebSocketStream<S>,
    conn: Connection,
    outbound: mpsc::Receiver<Outbound>,
    registry: Arc<Registry>,
) -> String
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sink, mut stream) = socket.split();
    let (close_tx, close_rx) = tokio::sync::oneshot::channel();
    let writer = tokio::spawn(write_loop(sink, outbound, close_rx));
    let mut router = Router::new(registry, conn.clone());
    let settings = *conn.settings();
    let mut heartbeat = Heartbeat::new(settings.ping_interval, settings.pong_timeout);

    let local_close = loop {
        tokio::select! {
            biased;
            // Cancel safe: a close request made meanwhile is kept for the next poll.
            reason = conn.close_requested() => break Some(reason),
            // Cancel safe: `next` on a stream loses nothing when dropped.
            received = stream.next() => match received {
                Some(Ok(Message::Text(text))) => {
                    router.on_frame(Frame::from_utf8(text), &mut heartbeat).await;
                }
                Some(Ok(Message::Binary(_))) => {
                    tracing::warn!(connection = %conn.id(), "binary frame; closing");
                    break Some(CloseReason::new(1003, "binary frames are not part of the protocol"));
                }
                // tungstenite answers pings and completes the close handshake by itself.
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Close(_))) | None => break None,
                Some(Err(err)) => break close_for(&err, &conn),
            },
            // Cancel safe: the timer keeps its deadline.
            () = heartbeat.due() => match heartbeat.fire() {
                Beat::Ping => conn.push(crate::message::PING),
                Beat::Expired => {
                    tracing::warn!(connection = %conn.id(), "no pong within the pong timeout; closing");
                    break Some(CloseReason::new(1001, "pong timeout"));
                }
                Beat::Idle => {}
            },
        }
    };

    conn.mark_closed();
    drop(router);
    let why = match local_close {
        Some(reason) => {
            let why = format!("closed by this side: {} {}", reason.code, reason.reason);
            let _ = close_tx.send(reason);
            // Wait for the peer's close frame (or the end of the stream), ignoring the rest.
            let drain = async {
                while let Some(Ok(message)) = stream.next().await {
                    if message.is_close() {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, drain).await;
            why
        }
        None => "closed by the peer".to_owned(),
    };
    // The writer has nothing more to do once the handshake is over (or timed out); one stuck
    // on a peer that reads nothing is stopped, which drops the socket.
    let abort = writer.abort_handle();
    if tokio::time::timeout(Duration::from_millis(100), writer)
        .await
        .is_err()
    {
        tracing::debug!(connection = %conn.id(), "writer did not finish; stopped");
        abort.abort();
    }
    why
}

/// The close code for a read error, or `None` when the socket is simply gone.
fn close_for(err: &WsError, conn: &Connection) -> Option<CloseReason> {
    let reason = match err {
        WsError::Capacity(CapacityError::MessageTooLong { .. }) => {
            CloseReason::new(1009, "message too big")
        }
        WsError::Capacity(_) => CloseReason::new(1009, "frame too big"),
        WsError::Utf8(_) => CloseReason::new(1007, "invalid UTF-8 in a text frame"),
        WsError::Protocol(_) => CloseReason::new(1002, "protocol error"),
        _ => {
            tracing::debug!(connection = %conn.id(), %err, "socket error");
            return None;
        }
    };
    tracing::warn!(connection = %conn.id(), %err, "closing after a bad frame");
    Some(reason)
}

/// Writes queued frames, flushing once per burst, until told to close or the socket fails.
async fn write_loop<S>(
    mut sink: SplitSink<WebSocketStream<S>, Message>,
    mut queue: mpsc::Receiver<Outbound>,
    mut close: tokio::sync::oneshot::Receiver<CloseReason>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        let first = tokio::select! {
            biased;
            // Cancel safe: `recv` loses no message when dropped.
            next = queue.recv() => next,
            // Cancel safe: a oneshot receiver can be polled again.
            reason = &mut close => {
                let frame = reason.ok().map(|r| CloseFrame { code: CloseCode::from(r.code), reason: r.reason.into_owned().into() });
                let _ = sink.send(Message::Close(frame)).await;
                return;
            }
        };
        let mut item = first;
        let mut written = 0;
        while let Some(Outbound::Frame(frame)) = item {
            if sink.feed(Message::Text(frame.into_inner())).await.is_err() {
                return;
            }
            written += 1;
            item = if written < MAX_BURST {
                queue.try_recv().ok()
            } else {
                None
            };
        }
        if written == 0 {
            return;
        }
        if sink.flush().await.is_err() {
            return;
        }
    }
}
