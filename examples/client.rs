//! The example client: `cargo run --example client` (start the example server first).
//!
//! Connects to `$ECHORPC_URL` (default ws://localhost:9100) with token `secret`, offers the typed
//! [`Callbacks`] service (`double` {x} → x*2, and the `chat` event), prints the result of
//! add {1,2}, publishes `chat` {"text":"hello"}, sends the batch [add {1,2}, add {3,4}] and
//! prints its results (a typed batch), then disconnects. Exits non-zero with a message on any failure.
//!
//! `wss://` URLs are verified against the usual roots plus the PEM certificate named by
//! `$ECHORPC_TLS_CA`, when set (see `deploy.rs`); an unreadable or invalid file is an error.

use echorpc::tls::ClientTls;
use echorpc::{Client, Error};
use echorpc_examples::{AppBatch, AppClient, Callbacks, CallbacksServer, Chat};
use serde_json::Value;

#[path = "deploy.rs"]
mod deploy;

/// The client's implementation of [`Callbacks`].
struct Example;

impl Callbacks for Example {
    async fn double(&self, x: Value) -> Result<Value, Error> {
        if let Some(n) = x.as_i64() {
            return Ok(Value::from(n * 2));
        }
        match x.as_f64() {
            Some(f) => Ok(Value::from(f * 2.0)),
            None => Err(Error::invalid_params(format!(
                "x must be a number, got {x}"
            ))),
        }
    }

    async fn chat(&self, msg: Chat) {
        eprintln!("chat: {}", msg.text);
    }
}

async fn run(tls: ClientTls) -> Result<(), Error> {
    let url = std::env::var("ECHORPC_URL").unwrap_or_else(|_| "ws://localhost:9100".to_owned());
    let client = Client::builder(url).token("secret").tls(tls).build();
    client.mount(CallbacksServer::new(Example))?;
    client.connect().await?;
    let app = AppClient::new(&client);

    let sum = app.add(1, 2).await?;
    println!("{}", serde_json::to_string(&sum)?);
    app.chat(Chat {
        text: "hello".to_owned(),
    })
    .await?;
    let mut batch = AppBatch::new(&client);
    let (first, second) = (batch.add(1, 2), batch.add(3, 4));
    let mut results = batch.send_batch().await?;
    let sums = [results.take(first)?, results.take(second)?];
    println!("{}", serde_json::to_string(&sums)?);
    client.disconnect().await;
    Ok(())
}

#[tokio::main]
async fn main() {
    let tls = match deploy::client_tls_from_env() {
        Ok(tls) => tls,
        Err(err) => {
            eprintln!("client: {err}");
            std::process::exit(2);
        }
    };
    if let Err(err) = run(tls).await {
        eprintln!("client: {err}");
        std::process::exit(1);
    }
}
