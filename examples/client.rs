//! The example client: `cargo run --example client` (start the example server first).
//!
//! Connects to `$ECHORPC_URL` (default ws://localhost:9100) with token `secret`, offers the
//! command `double` {x} → x*2, subscribes to `chat`, prints the result of add {1,2}, publishes
//! `chat` {"text":"hello"}, sends the batch [add {1,2}, add {3,4}] and prints its results, then
//! disconnects. Exits non-zero with a message on any failure.

use echorpc::{Client, Error};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Deserialize, Serialize)]
struct Double {
    x: i64,
}

#[derive(Deserialize)]
struct Chat {
    text: String,
}

async fn run() -> Result<(), Error> {
    let url = std::env::var("ECHORPC_URL").unwrap_or_else(|_| "ws://localhost:9100".to_owned());
    let client = Client::builder(url).token("secret").build();
    client.register("double", |p: Double, _conn| async move {
        Ok::<_, Error>(p.x * 2)
    })?;
    client.subscribe("chat", |chat: Chat, _conn| async move {
        eprintln!("chat: {}", chat.text);
    })?;
    client.connect().await?;

    let sum = client.request("add", json!({ "a": 1, "b": 2 })).await?;
    println!("{sum}");
    client.publish("chat", json!({ "text": "hello" })).await?;
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
