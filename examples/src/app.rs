//! The examples' server side of [`App`], written once: `examples/server.rs`, `examples/axum.rs`
//! and `examples/chat.rs` all mount it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use echorpc::{Connection, Error, Server};
use serde_json::Value;

use crate::{App, CallbacksClient, CallbacksEvents, Chat, Slept, Sum, Who};

/// The example server's [`App`]. It holds the server it is mounted on, to broadcast and to
/// reach clients on any node of a cluster.
///
/// ```no_run
/// use echorpc::Server;
/// use echorpc_examples::{AppServer, app::ExampleApp};
///
/// let server = Server::builder().build();
/// server.mount(AppServer::new(ExampleApp::new(server.clone())))?;
/// # Ok::<(), echorpc::Error>(())
/// ```
#[derive(Debug)]
pub struct ExampleApp {
    server: Server,
    /// `slow` calls running now; each one counts itself out when it ends or is cancelled.
    slow_running: Arc<AtomicUsize>,
}

impl ExampleApp {
    /// The service, broadcasting and calling clients through `server`.
    pub fn new(server: Server) -> Self {
        Self {
            server,
            slow_running: Arc::default(),
        }
    }
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

impl App for ExampleApp {
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

    // Events to clients are the clients' trait's (`Callbacks`): `CallbacksEvents` sends them.
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
