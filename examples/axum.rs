//! The example server mounted in an axum app: `cargo run --example axum`.
//!
//! An axum app on 127.0.0.1:`$ECHORPC_PORT` (default 9100) that answers `GET /health` with 200
//! and serves the example server's services, auth (token `secret`) and behaviour at `/ws`
//! (`ws://127.0.0.1:9100/ws`), next to its own routes, on its own port. Prints a line containing
//! `listening` once ready. Ctrl-C or SIGTERM drains within `$ECHORPC_DRAIN_MS` (default 5000),
//! as the standalone example does. Logs go to stderr (`RUST_LOG`).
//!
//! TLS belongs to the app here: terminate it in front of the app (or serve the app through
//! tokio-rustls); `ECHORPC_TLS_CERT`/`ECHORPC_TLS_KEY` are refused rather than ignored.

use std::net::SocketAddr;

use axum::Router;
use axum::routing::get;

// The example server's handlers and auth, shared with `examples/server.rs`; its `main` is
// not used here.
#[allow(dead_code)]
#[path = "server.rs"]
mod server;

use server::deploy;

fn port() -> Result<u16, String> {
    match std::env::var("ECHORPC_PORT") {
        Ok(text) => text
            .parse()
            .map_err(|_| format!("ECHORPC_PORT must be a port number, got {text:?}")),
        Err(_) => Ok(9100),
    }
}

async fn run() -> Result<(), String> {
    let (server, secure) = server::build()?;
    if secure {
        return Err(
            "the axum example serves plain HTTP: terminate TLS in front of it, or unset ECHORPC_TLS_CERT and ECHORPC_TLS_KEY"
                .to_owned(),
        );
    }
    let drain = deploy::drain_deadline()?;
    let app = Router::new()
        .route("/health", get(|| async { "ok\n" }))
        .route("/ws", server.axum_route());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port()?))
        .await
        .map_err(|err| format!("cannot listen: {err}"))?;
    let addr = listener
        .local_addr()
        .map_err(|err| format!("cannot listen: {err}"))?;
    println!("echorpc axum example listening on http://{addr} (WebSocket at ws://{addr}/ws)");
    let shutdown = async move {
        deploy::shutdown_signal().await;
        tracing::info!(?drain, "signal received; shutting down");
        server.shutdown(drain).await;
    };
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .map_err(|err| format!("serving failed: {err}"))
}

#[tokio::main]
async fn main() {
    deploy::init_tracing();
    if let Err(err) = run().await {
        eprintln!("axum example: {err}");
        std::process::exit(1);
    }
}
