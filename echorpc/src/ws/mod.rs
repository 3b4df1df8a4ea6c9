//! The WebSocket adapter: the only module that names tokio-tungstenite. It configures sockets,
//! and turns a `WebSocketStream` into a [`Transport`](crate::transport::Transport) for the
//! connection's control loop, mapping WebSocket messages and errors to the core's frames and
//! close codes.

mod transport;

pub(crate) use transport::WsTransport;

use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::config::Limits;

/// Bytes read from the socket at a time, and the read buffer every connection holds, idle or
/// not (tungstenite's default is 128 KiB). JSON-RPC messages are mostly far smaller: 1 KiB
/// holds several pipelined requests per read. A larger message is still read whole: tungstenite
/// grows the buffer to the frame's announced length and reads it in pieces of this size (a
/// 64 KiB message takes 64 reads, each a memory copy of what the kernel already holds).
/// Measured (bench scenario e, 10,000 idle connections): 2 KiB → 1 KiB saves 1.0 KiB per
/// connection.
const READ_BUFFER: usize = 1024;

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
