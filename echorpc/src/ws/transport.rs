//! A WebSocket as a [`Transport`]: text frames pass through, close frames end the stream,
//! anything the protocol does not allow becomes the close code this side answers with.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::frame::Frame;
use crate::transport::{Close, Message, TransportError};

/// A WebSocket over any byte stream `S` (TCP, TLS, an HTTP upgrade).
#[derive(Debug)]
pub(crate) struct WsTransport<S> {
    socket: WebSocketStream<S>,
}

impl<S> WsTransport<S> {
    pub(crate) fn new(socket: WebSocketStream<S>) -> Self {
        Self { socket }
    }
}

/// The transport error for a read error: a close owed to a peer that broke the rules, or a
/// socket that is simply gone.
fn read_error(err: WsError) -> TransportError {
    let close = match &err {
        WsError::Capacity(CapacityError::MessageTooLong { .. }) => {
            Close::new(1009, "message too big")
        }
        WsError::Capacity(_) => Close::new(1009, "frame too big"),
        WsError::Utf8(_) => Close::new(1007, "invalid UTF-8 in a text frame"),
        WsError::Protocol(_) => Close::new(1002, "protocol error"),
        _ => return TransportError::gone("the socket failed").with_source(err),
    };
    TransportError::violation(close).with_source(err)
}

fn write_error(err: WsError) -> TransportError {
    TransportError::gone("the socket failed").with_source(err)
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for WsTransport<S> {
    type Item = Result<Frame, TransportError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            let message = match Pin::new(&mut self.socket).poll_next(cx) {
                Poll::Ready(Some(Ok(message))) => message,
                Poll::Ready(Some(Err(err))) => return Poll::Ready(Some(Err(read_error(err)))),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            };
            return Poll::Ready(match message {
                WsMessage::Text(text) => Some(Ok(Frame::from_utf8_bytes(text))),
                WsMessage::Binary(_) => Some(Err(TransportError::violation(Close::new(
                    1003,
                    "binary frames are not part of the protocol",
                )))),
                // tungstenite answers pings and completes the close handshake by itself.
                WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_) => continue,
                WsMessage::Close(_) => None,
            });
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WsTransport<S> {
    type Error = TransportError;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.socket)
            .poll_ready(cx)
            .map_err(write_error)
    }

    fn start_send(mut self: Pin<&mut Self>, item: Message) -> Result<(), Self::Error> {
        let message = match item {
            Message::Text(frame) => WsMessage::Text(frame.into_utf8_bytes()),
            Message::Close(close) => WsMessage::Close(Some(CloseFrame {
                code: CloseCode::from(close.code()),
                reason: close.reason().to_owned().into(),
            })),
        };
        Pin::new(&mut self.socket)
            .start_send(message)
            .map_err(write_error)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.socket)
            .poll_flush(cx)
            .map_err(write_error)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.socket)
            .poll_close(cx)
            .map_err(write_error)
    }
}
