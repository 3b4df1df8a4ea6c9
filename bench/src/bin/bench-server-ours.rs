//! The echorpc server under test: a typed `add` {a,b} → {sum} and `broadcast` {seq} → sends
//! `tick` {seq} to every connection. Binds 127.0.0.1:0 and prints `listening ADDR`.

use echorpc::{Limits, Server};
use echorpc_bench::api::{self, Sum, TICK, Tick};

/// The benchmarked service.
#[echorpc::service]
pub trait Bench {
    /// `add` {a, b} → {"sum": a + b}.
    async fn add(&self, a: i64, b: i64) -> Sum;
    /// `broadcast` {seq} → `tick` {seq} to every connection; returns how many it reached.
    async fn broadcast(&self, seq: u64) -> Result<usize, echorpc::Error>;
}

struct Ours {
    server: Server,
}

impl Bench for Ours {
    async fn add(&self, a: i64, b: i64) -> Sum {
        Sum { sum: a + b }
    }

    async fn broadcast(&self, seq: u64) -> Result<usize, echorpc::Error> {
        self.server.broadcast(TICK, Tick { seq })
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::builder()
        .host("127.0.0.1")
        .port(0)
        .limits(Limits::default().with_max_connections(20_000))
        .build();
    server.mount(BenchServer::new(Ours {
        server: server.clone(),
    }))?;
    let addr = server.start().await?;
    api::announce(addr);
    server.serve().await?;
    Ok(())
}
