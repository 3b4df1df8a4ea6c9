//! The echorpc `Client` making typed `add` calls against the echorpc server (scenario g).
//!
//! `bench-client-ours --url ws://127.0.0.1:PORT/ --inflight K --warmup-ms W --duration-ms D`
//! prints one `result ...` line on stdout (see `echorpc_bench::client_driver`).

use echorpc::Client;
use echorpc_bench::api::Sum;
use echorpc_bench::client_driver::{self, ClientArgs};

/// The benchmarked service, as the client sees it.
#[echorpc::service]
pub trait Bench {
    /// `add` {a, b} → {"sum": a + b}.
    async fn add(&self, a: i64, b: i64) -> Sum;
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = ClientArgs::parse(std::env::args().skip(1))?;
    let client = Client::builder(args.url.clone()).build();
    client.connect().await?;
    let stub = BenchClient::new(client.clone());
    let stats = client_driver::run(&args, move |a, b| {
        let stub = stub.clone();
        async move {
            let answer = stub.add(a, b).await.map_err(|e| e.to_string())?;
            Ok(answer.sum)
        }
    })
    .await;
    println!("{}", stats.result_line());
    client.disconnect().await;
    Ok(())
}
