//! A connected pair of in-memory transports: the control loop without sockets.
//!
//! Each end is a bounded channel of [`Message`]s toward the other, so back-pressure, ordering
//! and closing behave as over a socket (minus the network). Use it to run a [`Server`] and a
//! [`Client`] in one process, e.g. to test a typed service in a few lines:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), echorpc::Error> {
//! use echorpc::{Client, Server};
//!
//! #[echorpc::service]
//! trait Calc {
//!     async fn add(&self, a: i64, b: i64) -> i64;
//! }
//!
//! struct MyCalc;
//! impl Calc for MyCalc {
//!     async fn add(&self, a: i64, b: i64) -> i64 { a + b }
//! }
//!
//! let server = Server::builder().build();
//! server.mount(CalcServer::new(MyCalc))?;
//! let client = server.connect_in_memory(Client::builder("memory")).await?;
//! assert_eq!(CalcClient::new(&client).add(1, 2).await?, 3);
//! # Ok(()) }
//! ```
//!
//! [`Server`]: crate::Server
//! [`Client`]: crate::Client

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::channel::mpsc;
use futures::{Sink, Stream};

use crate::frame::Frame;
use crate::transport::{Message, TransportError};

/// Messages one end may have sent and the other not yet read, by default.
pub const DEFAULT_CAPACITY: usize = 64;

/// One end of an in-memory connection; see [`pair`].
#[derive(Debug)]
pub struct MemoryTransport {
    outgoing: mpsc::Sender<Message>,
    incoming: mpsc::Receiver<Message>,
    /// Set once the peer's close frame was read: the stream has ended.
    ended: bool,
}

/// Two connected ends: what one sends, the other receives, in order, with room for
/// [`DEFAULT_CAPACITY`] unread messages each way.
pub fn pair() -> (MemoryTransport, MemoryTransport) {
    pair_with_capacity(DEFAULT_CAPACITY)
}

/// [`pair`] with room for `capacity` unread messages each way.
pub fn pair_with_capacity(capacity: usize) -> (MemoryTransport, MemoryTransport) {
    // `futures`' channel holds `buffer + senders` messages; one sender per direction.
    let room = capacity.max(1) - 1;
    let (a_tx, a_rx) = mpsc::channel(room);
    let (b_tx, b_rx) = mpsc::channel(room);
    (
        MemoryTransport {
            outgoing: a_tx,
            incoming: b_rx,
            ended: false,
        },
        MemoryTransport {
            outgoing: b_tx,
            incoming: a_rx,
            ended: false,
        },
    )
}

impl Stream for MemoryTransport {
    type Item = Result<Frame, TransportError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.incoming).poll_next(cx) {
            Poll::Ready(Some(Message::Text(frame))) => Poll::Ready(Some(Ok(frame))),
            Poll::Ready(Some(Message::Close(_)) | None) => {
                self.ended = true;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

fn gone(_: mpsc::SendError) -> TransportError {
    TransportError::gone("the other end of the in-memory transport is gone")
}

impl Sink<Message> for MemoryTransport {
    type Error = TransportError;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.outgoing.poll_ready(cx).map_err(gone)
    }

    fn start_send(mut self: Pin<&mut Self>, item: Message) -> Result<(), Self::Error> {
        self.outgoing.start_send(item).map_err(gone)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // A message is in the other end's queue as soon as `start_send` took it: nothing is
        // buffered on this side. (The channel's own `poll_flush` waits for room for one more.)
        Poll::Ready(Ok(()))
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.outgoing).poll_close(cx).map_err(gone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::Close;
    use futures::{SinkExt, StreamExt};

    #[tokio::test]
    async fn frames_arrive_in_order_and_close_ends_the_stream() {
        let (mut a, mut b) = pair();
        a.send(Message::Text(Frame::from("1"))).await.unwrap();
        a.send(Message::Text(Frame::from("2"))).await.unwrap();
        a.send(Message::Close(Close::NORMAL)).await.unwrap();
        assert_eq!(b.next().await.unwrap().unwrap().as_str(), "1");
        assert_eq!(b.next().await.unwrap().unwrap().as_str(), "2");
        assert!(b.next().await.is_none());
        assert!(b.next().await.is_none());
    }

    #[tokio::test]
    async fn a_dropped_end_ends_the_other() {
        let (a, mut b) = pair();
        drop(a);
        assert!(b.next().await.is_none());
        assert!(b.send(Message::Text(Frame::from("x"))).await.is_err());
    }

    #[tokio::test]
    async fn a_full_direction_waits_for_the_reader() {
        let (mut a, mut b) = pair_with_capacity(2);
        a.send(Message::Text(Frame::from("1"))).await.unwrap();
        a.send(Message::Text(Frame::from("2"))).await.unwrap();
        let third = a.send(Message::Text(Frame::from("3")));
        tokio::pin!(third);
        assert!(futures::poll!(&mut third).is_pending());
        assert_eq!(b.next().await.unwrap().unwrap().as_str(), "1");
        third.await.unwrap();
    }
}
