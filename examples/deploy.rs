//! What the example servers and client share for deployment: logging through
//! `tracing-subscriber` (`RUST_LOG`, default `info`), TLS from the environment, and the
//! graceful-shutdown signal and deadline. Included by each example with `#[path]`.
//!
//! Environment contract:
//! - servers: `ECHORPC_TLS_CERT` (PEM chain, leaf first) and `ECHORPC_TLS_KEY` (PEM key) serve
//!   `wss://`; both or neither. `ECHORPC_DRAIN_MS` (default 5000): the shutdown deadline.
//! - client: `ECHORPC_TLS_CA` (PEM) is trusted in addition to the usual roots.
//!
//! A half or broken TLS configuration is an error (the example exits non-zero), never a
//! silent fall back to plaintext.

// Each example uses only part of this module.
#![allow(dead_code)]

use std::io::IsTerminal;
use std::time::Duration;

use echorpc::tls::{ClientTls, ServerTls};

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
pub(crate) fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The server's TLS from `ECHORPC_TLS_CERT` and `ECHORPC_TLS_KEY`; `None` when neither is set.
pub(crate) fn server_tls_from_env() -> Result<Option<ServerTls>, String> {
    match (var("ECHORPC_TLS_CERT"), var("ECHORPC_TLS_KEY")) {
        (None, None) => Ok(None),
        (Some(cert), Some(key)) => ServerTls::from_pem_files(&cert, &key)
            .map(Some)
            .map_err(|err| format!("TLS configuration: {err}")),
        (Some(_), None) => Err(
            "ECHORPC_TLS_CERT is set but ECHORPC_TLS_KEY is not: set both to serve wss://, or neither for ws://"
                .to_owned(),
        ),
        (None, Some(_)) => Err(
            "ECHORPC_TLS_KEY is set but ECHORPC_TLS_CERT is not: set both to serve wss://, or neither for ws://"
                .to_owned(),
        ),
    }
}

/// The client's TLS: the usual roots plus `ECHORPC_TLS_CA` when set.
pub(crate) fn client_tls_from_env() -> Result<ClientTls, String> {
    match var("ECHORPC_TLS_CA") {
        None => Ok(ClientTls::new()),
        Some(path) => ClientTls::new()
            .with_root_pem_file(&path)
            .map_err(|err| format!("ECHORPC_TLS_CA: {err}")),
    }
}

/// `ECHORPC_DRAIN_MS` (default 5000).
pub(crate) fn drain_deadline() -> Result<Duration, String> {
    match var("ECHORPC_DRAIN_MS") {
        None => Ok(Duration::from_millis(5000)),
        Some(text) => text
            .parse()
            .map(Duration::from_millis)
            .map_err(|_| format!("ECHORPC_DRAIN_MS must be a whole number, got {text:?}")),
    }
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM.
pub(crate) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(err) => {
                tracing::warn!(%err, "cannot listen for SIGTERM; Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
