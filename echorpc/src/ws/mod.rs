//! The WebSocket adapter: the only module that names tokio-tungstenite. It configures sockets,
//! and turns a `WebSocketStream` into a [`Transport`](crate::transport::Transport) for the
//! connection's control loop, mapping WebSocket messages and errors to the core's frames and
//! close codes.

mod transport;

pub(crate) use transport::WsTransport;

use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::config::Limits;

/// Bytes read from the socket at a time. The read buffer is allocated for every connection,
/// idle or not, so it is kept small (tungstenite's default is 128 KiB): JSON-RPC messages are
/// mostly far smaller, and a larger one is still read whole (tungstenite grows the buffer to
/// the frame's announced length, so it takes one more read, not many).
const READ_BUFFER: usize = 2 * 1024;

pub(crate) fn config(limits: &Limits) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(32 * 1024)
        .max_message_size(Some(limits.max_message_size()))
        .max_frame_size(Some(limits.max_message_size()))
}

pub(crate) mod socket {
    //! Re-exports for the server's upgrade and the client's dial.
    pub(crate) use tokio_tungstenite::WebSocketStream;
    pub(crate) use tokio_tungstenite::tungstenite::Error as WsError;
    pub(crate) use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
    pub(crate) use tokio_tungstenite::tungstenite::http;
    pub(crate) use tokio_tungstenite::tungstenite::protocol::Role;
    pub(crate) use tokio_tungstenite::{
        client_async_with_config, tungstenite::client::IntoClientRequest,
    };
}
