//! The example client: `cargo run --example client` (start the example server first).
//!
//! Connects to `$ECHORPC_URL` (default ws://localhost:9100) with token `secret`, offers the typed
//! [`Callbacks`] service (`double` {x} → x*2, and the `chat` event), prints the result of
//! add {1,2}, publishes `chat` {"text":"hello"}, sends the batch [add {1,2}, add {3,4}] and
//! prints its results, then disconnects. Exits non-zero with a message on any failure.

use echorpc::{Client, Error};
use echorpc_examples::{AppClient, Callbacks, CallbacksServer, Chat};
use serde_json::{Value, json};

/// The client's implementation of [`Callbacks`].
struct Example;

impl Callbacks for Example {
    async fn double(&self, x: i64) -> i64 {
        x * 2
    }

    async fn chat(&self, msg: Chat) {
        eprintln!("chat: {}", msg.text);
    }
}

async fn run() -> Result<(), Error> {
    let url = std::env::var("ECHORPC_URL").unwrap_or_else(|_| "ws://localhost:9100".to_owned());
    let client = Client::builder(url).token("secret").build();
    client.mount(CallbacksServer::new(Example))?;
    client.connect().await?;
    let app = AppClient::new(&client);

    let sum = app.add(1, 2).await?;
    println!("{}", serde_json::to_string(&sum)?);
    app.chat(Chat {
        text: "hello".to_owned(),
    })
    .await?;
    let results = client
        .batch_request([
            ("add", json!({ "a": 1, "b": 2 })),
            ("add", json!({ "a": 3, "b": 4 })),
        ])
        .await?
        .into_iter()
        .collect::<Result<Vec<Value>, Error>>()?;
    println!("{}", Value::from(results));
    client.disconnect().await;
    Ok(())
}

#[tokio::main]
async fn main() {
    if let Err(err) = run().await {
        eprintln!("client: {err}");
        std::process::exit(1);
    }
}
