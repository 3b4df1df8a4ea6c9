//! The example server: `cargo run --example server`.
//!
//! Listens on 127.0.0.1:`$ECHORPC_PORT` (default 9100) and accepts only the token `secret`.
//! Heartbeat: `$ECHORPC_PING_MS` (default 30000) and `$ECHORPC_PONG_TIMEOUT_MS` (default 5000).
//! Prints a line containing `listening` once ready; Ctrl-C stops it.
//!
//! Commands: `add` {a,b} → {"sum"}; `whoami` → {"role","client_id"} of the caller;
//! `ask_double` {x} → calls the caller's `double` {x} and returns its result;
//! `announce` {role,text} → broadcasts `chat` {"text"} to that role and returns null.
//! Event `chat` {text} from a client is rebroadcast as `chat` {"text"} to every other connection.

use std::time::Duration;

use echorpc::{Connection, Error, Server};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct AddParams {
    a: i64,
    b: i64,
}

#[derive(Serialize)]
struct Sum {
    sum: i64,
}

#[derive(Serialize)]
struct Who {
    role: String,
    client_id: String,
}

#[derive(Deserialize, Serialize)]
struct Double {
    x: i64,
}

#[derive(Deserialize)]
struct Announce {
    role: String,
    text: String,
}

#[derive(Deserialize, Serialize)]
struct Chat {
    text: String,
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
    register(&server).map_err(|err| err.to_string())?;
    Ok(server)
}

fn register(server: &Server) -> Result<(), Error> {
    server.register("add", |p: AddParams, _conn| async move {
        Ok::<_, Error>(Sum { sum: p.a + p.b })
    })?;
    server.register(
        "whoami",
        |_: serde_json::Value, conn: Connection| async move {
            Ok::<_, Error>(Who {
                role: conn.meta().role().to_owned(),
                client_id: conn.meta().client_id().to_owned(),
            })
        },
    )?;
    server.register("ask_double", |p: Double, conn: Connection| async move {
        conn.request("double", Double { x: p.x }).await
    })?;
    let broadcaster = server.clone();
    server.register("announce", move |p: Announce, _conn| {
        let sent = broadcaster.broadcast_to_role(&p.role, "chat", Chat { text: p.text });
        async move { sent.map(|_| ()) }
    })?;
    let broadcaster = server.clone();
    server.subscribe("chat", move |chat: Chat, from: Connection| {
        if let Err(err) = broadcaster.broadcast_except(&from, "chat", chat) {
            tracing::warn!(%err, "chat rebroadcast failed");
        }
        async {}
    })?;
    Ok(())
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
