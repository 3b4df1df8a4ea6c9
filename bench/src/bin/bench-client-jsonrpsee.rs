//! The jsonrpsee 0.26 `WsClient` making `add` calls (scenario g), with default settings.
//!
//! `bench-client-jsonrpsee --url ws://127.0.0.1:PORT/ --inflight K --warmup-ms W --duration-ms D`
//! prints one `result ...` line on stdout (see `echorpc_bench::client_driver`).

use echorpc_bench::api::Sum;
use echorpc_bench::client_driver::{self, ClientArgs};
use jsonrpsee::core::client::ClientT as _;
use jsonrpsee::core::params::ObjectParams;
use jsonrpsee_ws_client::WsClientBuilder;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = ClientArgs::parse(std::env::args().skip(1))?;
    let client = Arc::new(WsClientBuilder::default().build(&args.url).await?);
    let stats = client_driver::run(&args, move |a, b| {
        let client = Arc::clone(&client);
        async move {
            let mut params = ObjectParams::new();
            params.insert("a", a).map_err(|e| e.to_string())?;
            params.insert("b", b).map_err(|e| e.to_string())?;
            let answer: Sum = client
                .request("add", params)
                .await
                .map_err(|e| e.to_string())?;
            Ok(answer.sum)
        }
    })
    .await;
    println!("{}", stats.result_line());
    Ok(())
}
