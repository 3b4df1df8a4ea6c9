//! The jsonrpsee 0.26 reference server: `add`, `broadcast`, and `subscribe_tick`.
//!
//! Listens on 127.0.0.1:0 and prints `listening 127.0.0.1:PORT`. Settings: jsonrpsee's
//! defaults except `max_connections(20_000)` (default 100), so scenarios e and f fit.
//! Broadcasts are idiomatic jsonrpsee: a `tokio::sync::broadcast` channel that every
//! `subscribe_tick` subscription forwards as `tick` notifications.

use echorpc_bench::api::{self, AddParams, Sum, TICK, Tick};
use jsonrpsee::RpcModule;
use jsonrpsee::server::{Server, ServerConfig};
use jsonrpsee::types::ErrorObjectOwned;
use serde_json::value::to_raw_value;
use tokio::sync::broadcast::{self, error::RecvError};

/// Ticks a slow subscriber may lag behind before it skips some.
const TICK_BACKLOG: usize = 64;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (ticks, _) = broadcast::channel::<u64>(TICK_BACKLOG);
    let mut module = RpcModule::new(ticks);
    module.register_method("add", |params, _, _| {
        let p: AddParams = params.parse()?;
        Ok::<_, ErrorObjectOwned>(Sum { sum: p.a + p.b })
    })?;
    module.register_method("broadcast", |params, ticks, _| {
        let t: Tick = params.parse()?;
        let sent = ticks.send(t.seq).unwrap_or(0);
        Ok::<_, ErrorObjectOwned>(serde_json::json!({ "sent": sent }))
    })?;
    module.register_subscription(
        "subscribe_tick",
        TICK,
        "unsubscribe_tick",
        |_params, pending, ticks, _| async move {
            let mut rx = ticks.subscribe();
            let Ok(sink) = pending.accept().await else {
                return;
            };
            // Ends when the client goes away or the channel closes.
            loop {
                tokio::select! {
                    // Cancel safe: `closed` only waits for the connection to end.
                    _ = sink.closed() => break,
                    // Cancel safe: `recv` loses no value when dropped.
                    tick = rx.recv() => match tick {
                        Ok(seq) => {
                            let Ok(msg) = to_raw_value(&Tick { seq }) else { break };
                            if sink.send(msg).await.is_err() {
                                break;
                            }
                        }
                        Err(RecvError::Lagged(_)) => continue,
                        Err(RecvError::Closed) => break,
                    },
                }
            }
        },
    )?;

    let config = ServerConfig::builder().max_connections(20_000).build();
    let server = Server::builder()
        .set_config(config)
        .build("127.0.0.1:0")
        .await?;
    let addr = server.local_addr()?;
    let handle = server.start(module);
    api::announce(addr);
    handle.stopped().await;
    Ok(())
}
