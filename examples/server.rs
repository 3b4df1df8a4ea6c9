//! The example server: `cargo run --example server`.
//!
//! Listens on 127.0.0.1:`$ECHORPC_PORT` (default 9100) and accepts only the token `secret`.
//! Heartbeat: `$ECHORPC_PING_MS` (default 30000) and `$ECHORPC_PONG_TIMEOUT_MS` (default 5000).
//! Prints a line containing `listening` once ready; Ctrl-C stops it.
//!
//! It implements the typed [`App`] service (`add`, `whoami`, `ask_double`, `announce`, and the
//! `chat` event) and calls each client's [`Callbacks`] service back.

use std::time::Duration;

use echorpc::{Connection, Error, Server};
use echorpc_examples::{App, AppServer, CallbacksClient, CallbacksEvents, Chat, Sum, Who};
use serde_json::Value;

/// The server's implementation of [`App`]; it holds the server to broadcast through.
struct Example {
    server: Server,
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
    async fn announce(&self, role: String, text: String) -> Result<(), Error> {
        CallbacksEvents::new(&self.server)
            .chat_to_role(&role, &Chat { text })
            .map(drop)
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

fn build() -> Result<Server, String> {
    let port = env_number("ECHORPC_PORT", 9100)?;
    let port = u16::try_from(port).map_err(|_| format!("ECHORPC_PORT out of range: {port}"))?;
    let server = Server::builder()
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
        )?))
        .build();
    let app = Example {
        server: server.clone(),
    };
    server
        .mount(AppServer::new(app))
        .map_err(|err| err.to_string())?;
    Ok(server)
}

#[tokio::main]
async fn main() {
    let server = match build() {
        Ok(server) => server,
        Err(err) => {
            eprintln!("server: {err}");
            std::process::exit(2);
        }
    };
    match server.start().await {
        Ok(addr) => println!("echorpc example server listening on ws://{addr}"),
        Err(err) => {
            eprintln!("server: {err}");
            std::process::exit(1);
        }
    }
    let stopper = server.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stopper.stop().await;
        }
    });
    if let Err(err) = server.serve().await {
        eprintln!("server: {err}");
        std::process::exit(1);
    }
}
