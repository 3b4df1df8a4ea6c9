//! The example server: `cargo run --example server`.
//!
//! Listens on 127.0.0.1:`$ECHORPC_PORT` (default 9100) and accepts only the token `secret`.
//! Heartbeat: `$ECHORPC_PING_MS` (default 30000) and `$ECHORPC_PONG_TIMEOUT_MS` (default 5000).
//! Prints a line containing `listening` once ready. Serves `wss://` when `$ECHORPC_TLS_CERT` and
//! `$ECHORPC_TLS_KEY` name PEM files (see `deploy.rs`). Ctrl-C or SIGTERM shuts it down
//! gracefully within `$ECHORPC_DRAIN_MS` (default 5000): calls in flight are answered, then
//! every socket closes with 1001 and the process exits 0. Logs go to stderr (`RUST_LOG`).
//!
//! It implements the typed [`App`] service (`add`, `whoami`, `ask_double`, `ask_double_of`,
//! `online`, `announce`, `slow`, `running`, and the `chat` event) and calls each client's
//! [`Callbacks`] service back.
//!
//! With `$ECHORPC_REDIS_URL` set (e.g. `redis://127.0.0.1:6379`) it joins the cluster of the
//! servers using that Redis, as node `$ECHORPC_NODE` (a unique name by default): `chat`,
//! `announce`, `ask_double_of` and `online` then span every node, and `listening` is printed
//! only once Redis answers. Without it, a single node.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

#[path = "deploy.rs"]
pub(crate) mod deploy;

use echorpc::cluster::ClusterConfig;
use echorpc::{Connection, Error, Server};
use echorpc_examples::{App, AppServer, CallbacksClient, CallbacksEvents, Chat, Slept, Sum, Who};
use serde_json::Value;

/// The server's implementation of [`App`]; it holds the server to broadcast through.
struct Example {
    server: Server,
    /// `slow` calls running now; each one counts itself out when it ends or is cancelled.
    slow_running: Arc<AtomicUsize>,
}

/// Counts one `slow` call in while it lives.
struct SlowCall(Arc<AtomicUsize>);

impl SlowCall {
    fn start(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(Arc::clone(count))
    }
}

impl Drop for SlowCall {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl App for Example {
    async fn add(&self, a: i64, b: i64) -> Sum {
        Sum { sum: a + b }
    }

    async fn whoami(&self, conn: &Connection) -> Who {
        Who {
            role: conn.meta().role().to_owned(),
            client_id: conn.meta().client_id().to_owned(),
        }
    }

    async fn ask_double(&self, conn: &Connection, x: Value) -> Result<Value, Error> {
        CallbacksClient::new(conn).double(x).await
    }

    // Events to clients are the clients' trait's (`Callbacks`): `CallbacksEvents` sends them.
    async fn ask_double_of(&self, client_id: String, x: Value) -> Result<Value, Error> {
        // Wherever that client is connected: this node directly, another node through Redis.
        CallbacksClient::new(self.server.client(&client_id))
            .double(x)
            .await
    }

    async fn online(&self, role: String) -> Result<Vec<String>, Error> {
        let presence = self.server.presence(Some(&role)).await?;
        if !presence.is_complete() {
            tracing::warn!(missing = ?presence.missing_nodes, "online: some nodes did not answer");
        }
        let mut ids: Vec<String> = presence
            .entries
            .iter()
            .map(|entry| entry.meta.client_id().to_owned())
            .collect();
        ids.sort();
        Ok(ids)
    }

    async fn announce(&self, role: String, text: String) -> Result<(), Error> {
        CallbacksEvents::new(&self.server)
            .chat_to_role(&role, &Chat { text })
            .map(drop)
    }

    async fn slow(&self, ms: u64) -> Slept {
        // Cancelling the call drops this future, and with it the count.
        let _running = SlowCall::start(&self.slow_running);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Slept { slept: ms }
    }

    async fn running(&self) -> usize {
        self.slow_running.load(Ordering::SeqCst)
    }

    async fn chat(&self, conn: &Connection, msg: Chat) {
        if let Err(err) = CallbacksEvents::new(&self.server).chat_except(conn, &msg) {
            tracing::warn!(%err, "chat rebroadcast failed");
        }
    }
}

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
    let app = Example {
        server: server.clone(),
        slow_running: Arc::default(),
    };
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
