//! The echorpc server under test: a typed `add` {a,b} → {sum} and `broadcast` {seq} → sends
//! `tick` {seq} to every connection. Binds 127.0.0.1:0 and prints `listening ADDR`.
//!
//! `--tls`: the standalone listener over `wss://`, with a root and a leaf for 127.0.0.1
//! generated at start (rcgen); the root goes to a temporary file announced as `tls-root PATH`
//! before the listening line. `--axum`: the same server as the route `/ws` of an axum app.

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

/// A root CA and a leaf for 127.0.0.1 signed by it: (root PEM, leaf PEM, leaf key PEM).
fn generate_pki() -> Result<(String, String, String), rcgen::Error> {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let root_key = KeyPair::generate()?;
    let mut root_params = CertificateParams::new(Vec::<String>::new())?;
    root_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let root = root_params.self_signed(&root_key)?;
    let leaf_key = KeyPair::generate()?;
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])?
        .signed_by(&leaf_key, &root, &root_key)?;
    Ok((root.pem(), leaf.pem(), leaf_key.serialize_pem()))
}

/// Generates the certificates, writes the root to a temporary file and announces it.
fn tls() -> Result<echorpc::tls::ServerTls, Box<dyn std::error::Error>> {
    let (root, leaf, key) = generate_pki()?;
    let path = std::env::temp_dir().join(format!("echorpc-bench-root-{}.pem", std::process::id()));
    std::fs::write(&path, root)?;
    println!("tls-root {}", path.display());
    Ok(echorpc::tls::ServerTls::from_pem(
        leaf.as_bytes(),
        key.as_bytes(),
    )?)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (use_tls, use_axum) = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => (false, false),
        ["--tls"] => (true, false),
        ["--axum"] => (false, true),
        _ => return Err("usage: bench-server-ours [--tls | --axum]".into()),
    };
    let mut builder = Server::builder()
        .host("127.0.0.1")
        .port(0)
        .limits(Limits::default().with_max_connections(20_000));
    if use_tls {
        builder = builder.tls(tls()?);
    }
    let server = builder.build();
    server.mount(BenchServer::new(Ours {
        server: server.clone(),
    }))?;
    if use_axum {
        let app = axum::Router::new().route("/ws", server.axum_route());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        println!("{}ws://{addr}/ws", api::LISTENING_PREFIX);
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await?;
        return Ok(());
    }
    let addr = server.start().await?;
    if use_tls {
        println!("{}wss://{addr}/", api::LISTENING_PREFIX);
    } else {
        api::announce(addr);
    }
    server.serve().await?;
    Ok(())
}
