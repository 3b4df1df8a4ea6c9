//! The control loop of one connection, over any [`Transport`]: read → route → heartbeat →
//! write → close. The server runs it for every accepted client, the client for every connection
//! it makes, and tests run it over [`memory::pair`](crate::transport::memory::pair).
//!
//! Two tasks per connection: this loop (the reader: it routes every received frame, keeps the
//! heartbeat and owns the tasks of handlers still running), and a writer that drains the
//! outbound queue and flushes once per burst, so a slow peer never stops this side reading.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use tokio::sync::oneshot;

use crate::connection::Connection;
use crate::handler::BoxFuture;
use crate::heartbeat::{Beat, Heartbeat};
use crate::registry::Registry;
use crate::router::Router;
use crate::transport::{Close, Message, Transport};

/// Frames written before one flush, at most: a burst is flushed as one write.
const MAX_BURST: usize = 128;
/// How long a closing connection waits for the peer's close frame.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the writer may take to finish once the connection is closed.
const WRITER_GRACE: Duration = Duration::from_millis(100);

/// How a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ended {
    /// This side closed it, with this close.
    ByUs(Close),
    /// The peer closed it, or the transport went away.
    ByPeer,
}

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ByUs(close) => write!(f, "closed by this side: {close}"),
            Self::ByPeer => f.write_str("closed by the peer"),
        }
    }
}

/// Drives `conn` over `transport` until either side closes it. `on_open` (the `on_connect`
/// hooks) runs as one of the connection's tasks. When this returns the connection is closed,
/// its pending calls have failed, and every task it started has been stopped.
pub(crate) async fn drive<T: Transport>(
    transport: T,
    conn: Connection,
    registry: Arc<Registry>,
    on_open: Option<BoxFuture<()>>,
) -> Ended {
    let (sink, mut stream) = transport.split();
    let (close_tx, close_rx) = oneshot::channel();
    let writer = tokio::spawn(write_loop(sink, conn.clone(), close_rx));
    let mut router = Router::new(registry, conn.clone());
    if let Some(hooks) = on_open {
        router.spawn_task(hooks);
    }
    let settings = *conn.settings();
    let mut heartbeat = Heartbeat::new(settings.ping_interval, settings.pong_timeout);

    let local_close = loop {
        tokio::select! {
            biased;
            // Cancel safe: a close request made meanwhile is kept for the next poll.
            reason = conn.close_requested() => break Some(reason),
            // Cancel safe: `next` on a stream loses nothing when dropped.
            received = stream.next() => match received {
                Some(Ok(frame)) => {
                    router.on_frame(frame, &mut heartbeat);
                    if router.holds_events() {
                        // Rare (a peer flooding slow subscribers), so boxed: an idle
                        // connection's task does not carry this state.
                        Box::pin(router.deliver_held_events()).await;
                    }
                }
                None => break None,
                Some(Err(err)) => {
                    let close = err.close().cloned();
                    match &close {
                        Some(_) => tracing::warn!(connection = %conn.id(), %err, "closing after a bad frame"),
                        None => tracing::debug!(connection = %conn.id(), %err, "transport failed"),
                    }
                    break close;
                }
            },
            // Cancel safe: the timer keeps its deadline.
            () = heartbeat.due() => match heartbeat.fire() {
                Beat::Ping(ping) => conn.push(ping),
                Beat::Expired => {
                    tracing::warn!(connection = %conn.id(), "no pong within the pong timeout; closing");
                    break Some(Close::new(1001, "pong timeout"));
                }
                Beat::Idle => {}
            },
            // Cancel safe: a finished task stays in the set until joined.
            () = router.task_finished() => {}
        }
    };

    conn.mark_closed();
    // Work belongs to its connection: handlers still running could not deliver their answers.
    drop(router);
    let ended = match local_close {
        Some(reason) => {
            let _ = close_tx.send(reason.clone());
            drain_until_closed(&mut stream).await;
            Ended::ByUs(reason)
        }
        None => Ended::ByPeer,
    };
    // The writer has nothing more to do once the handshake is over (or timed out); one stuck
    // on a peer that reads nothing is stopped, which drops the transport.
    let abort = writer.abort_handle();
    if tokio::time::timeout(WRITER_GRACE, writer).await.is_err() {
        tracing::debug!(connection = %conn.id(), "writer did not finish; stopped");
        abort.abort();
    }
    ended
}

/// Waits for the peer's answer to our close (the end of its stream), ignoring any other frame.
async fn drain_until_closed<T: Transport>(stream: &mut SplitStream<T>) {
    let drain = async { while let Some(Ok(_)) = stream.next().await {} };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, drain).await;
}

/// Writes queued frames, flushing once per burst, until told to close or the transport fails.
async fn write_loop<T: Transport>(
    mut sink: SplitSink<T, Message>,
    conn: Connection,
    mut close: oneshot::Receiver<Close>,
) {
    let queue = conn.outbound();
    // The frames of the burst being written; allocates only while the connection is busy.
    let mut burst = VecDeque::new();
    loop {
        tokio::select! {
            biased;
            // Cancel safe: waiting takes nothing from the queue.
            () = queue.ready() => {}
            // Cancel safe: a oneshot receiver can be polled again.
            reason = &mut close => {
                if let Ok(reason) = reason {
                    let _ = sink.send(Message::Close(reason)).await;
                }
                return;
            }
        }
        let taken = queue.take_burst(&mut burst, MAX_BURST);
        while let Some(frame) = burst.pop_front() {
            if sink.feed(Message::Text(frame)).await.is_err() {
                return;
            }
        }
        queue.written(taken, &mut burst);
        if sink.flush().await.is_err() {
            return;
        }
    }
}
