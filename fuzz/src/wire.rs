//! A transport whose far end is driven by hand and sees everything the runtime writes,
//! close frames included (the in-memory pair hides the close code from its reader).

use std::pin::Pin;
use std::task::{Context, Poll};

use echorpc::transport::{Frame, Message, TransportError};
use futures::channel::mpsc;
use futures::{Sink, Stream};

/// Messages each direction holds before the writer waits.
pub const CAPACITY: usize = 64;

/// The runtime's end: a [`Transport`](echorpc::transport::Transport).
#[derive(Debug)]
pub struct RuntimeEnd {
    incoming: mpsc::Receiver<Frame>,
    outgoing: mpsc::Sender<Message>,
}

/// The hand-driven end: frames to send, and every message the runtime wrote.
#[derive(Debug)]
pub struct PeerEnd {
    /// Frames to the runtime; dropping it ends the runtime's stream (the peer went away).
    pub tx: mpsc::Sender<Frame>,
    /// What the runtime wrote, text frames and its close.
    pub rx: mpsc::Receiver<Message>,
}

/// A connected pair.
pub fn pair() -> (RuntimeEnd, PeerEnd) {
    let (tx, incoming) = mpsc::channel(CAPACITY);
    let (outgoing, rx) = mpsc::channel(CAPACITY);
    (RuntimeEnd { incoming, outgoing }, PeerEnd { tx, rx })
}

fn gone(_: mpsc::SendError) -> TransportError {
    TransportError::gone("the fuzz peer is gone")
}

impl Stream for RuntimeEnd {
    type Item = Result<Frame, TransportError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.incoming)
            .poll_next(cx)
            .map(|f| f.map(Ok))
    }
}

impl Sink<Message> for RuntimeEnd {
    type Error = TransportError;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.outgoing.poll_ready(cx).map_err(gone)
    }

    fn start_send(mut self: Pin<&mut Self>, item: Message) -> Result<(), Self::Error> {
        self.outgoing.start_send(item).map_err(gone)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.outgoing).poll_close(cx).map_err(gone)
    }
}

/// Close codes the runtime may end a connection with: normal, going away (stop, pong timeout),
/// policy (a peer that does not read), too big.
pub const PROPER_CLOSE_CODES: [u16; 4] = [1000, 1001, 1008, 1009];
