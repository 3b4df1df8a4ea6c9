//! The example server: `cargo run --example server`.
//!
//! Listens on 127.0.0.1:`$ECHORPC_PORT` (default 9100) and accepts only the token `secret`.
//! Heartbeat: `$ECHORPC_PING_MS` (default 30000) and `$ECHORPC_PONG_TIMEOUT_MS` (default 5000).
//! Prints a line containing `listening` once ready. Serves `wss://` when `$ECHORPC_TLS_CERT` and
//! `$ECHORPC_TLS_KEY` name PEM files (see `deploy.rs`). Ctrl-C or SIGTERM shuts it down
//! gracefully within `$ECHORPC_DRAIN_MS` (default 5000): calls in flight are answered, then
//! every socket closes with 1001 and the process exits 0. Logs go to stderr (`RUST_LOG`).
//!
//! It serves the typed [`App`](echorpc_examples::App) service (`add`, `whoami`, `ask_double`,
//! `ask_double_of`, `online`, `announce`, `slow`, `running`, and the `chat` event) through
//! [`ExampleApp`], which calls each client's [`Callbacks`](echorpc_examples::Callbacks) service
//! back.
//!
//! With `$ECHORPC_REDIS_URL` set (e.g. `redis://127.0.0.1:6379`) it joins the cluster of the
//! servers using that Redis, as node `$ECHORPC_NODE` (a unique name by default): `chat`,
//! `announce`, `ask_double_of` and `online` then span every node, and `listening` is printed
//! only once Redis answers. Without it, a single node.

use std::time::Duration;

#[path = "deploy.rs"]
pub(crate) mod deploy;

use echorpc::Server;
use echorpc::cluster::ClusterConfig;
use echorpc_examples::AppServer;
use echorpc_examples::app::ExampleApp;

fn env_number(name: &str, default: u64) -> Result<u64, String> {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .map_err(|_| format!("{name} must be a whole number, got {text:?}")),
        Err(_) => Ok(default),
    }
}

/// The configured server (handlers, auth, heartbeat, TLS from the environment) and whether it
/// serves TLS. The axum example mounts the same server.
pub(crate) fn build() -> Result<(Server, bool), String> {
    let tls = deploy::server_tls_from_env()?;
    let secure = tls.is_some();
    let port = env_number("ECHORPC_PORT", 9100)?;
    let port = u16::try_from(port).map_err(|_| format!("ECHORPC_PORT out of range: {port}"))?;
    let mut builder = Server::builder()
        .host("127.0.0.1")
        .port(port)
        .auth(|req| req.token == "secret")
        .ping_interval(Duration::from_millis(env_number(
            "ECHORPC_PING_MS",
            30_000,
        )?))
        .pong_timeout(Duration::from_millis(env_number(
            "ECHORPC_PONG_TIMEOUT_MS",
            5_000,
        )?));
    if let Some(tls) = tls {
        builder = builder.tls(tls);
    }
    if let Ok(url) = std::env::var("ECHORPC_REDIS_URL") {
        let mut cluster = ClusterConfig::redis(url);
        if let Ok(node) = std::env::var("ECHORPC_NODE") {
            cluster = cluster.node(node);
        }
        builder = builder.cluster(cluster);
    }
    let server = builder.build();
    let app = ExampleApp::new(server.clone());
    server
        .mount(AppServer::new(app))
        .map_err(|err| err.to_string())?;
    Ok((server, secure))
}

#[tokio::main]
async fn main() {
    deploy::init_tracing();
    let ((server, secure), drain) = match build().and_then(|s| Ok((s, deploy::drain_deadline()?))) {
        Ok(built) => built,
        Err(err) => {
            eprintln!("server: {err}");
            std::process::exit(2);
        }
    };
    let scheme = if secure { "wss" } else { "ws" };
    match server.start().await {
        Ok(addr) => println!("echorpc example server listening on {scheme}://{addr}"),
        Err(err) => {
            eprintln!("server: {err}");
            std::process::exit(1);
        }
    }
    deploy::shutdown_signal().await;
    tracing::info!(?drain, "signal received; shutting down");
    server.shutdown(drain).await;
}
