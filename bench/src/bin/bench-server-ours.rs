//! The echorpc server under test: a typed `add` {a,b} → {sum} and `broadcast` {seq} → sends
//! `tick` {seq} to every connection. Binds 127.0.0.1:0 and prints `listening ADDR`.
//!
//! `--tls`: the standalone listener over `wss://`, with a root and a leaf for 127.0.0.1
//! generated at start (rcgen); the root goes to a temporary file announced as `tls-root PATH`
//! before the listening line. `--axum`: the same server as the route `/ws` of an axum app.
//! `--cluster REDIS_URL NODE`: a node of a cluster over that Redis, named NODE; it announces
//! itself once connected to Redis. `relay` {client_id, x} calls `double` {"x": x} on the client
//! of that client_id, on whichever node it is connected, and returns its answer.

use echorpc::{Limits, Server};
use echorpc_bench::api::{self, Sum, TICK, Tick};

/// The benchmarked service.
#[echorpc::service]
pub trait Bench {
    /// `add` {a, b} → {"sum": a + b}.
    async fn add(&self, a: i64, b: i64) -> Sum;
    /// `broadcast` {seq} → `tick` {seq} to every connection; returns how many it reached.
    async fn broadcast(&self, seq: u64) -> Result<usize, echorpc::Error>;
    /// `relay` {client_id, x} → the answer of that client's `double` {"x": x}.
    async fn relay(&self, client_id: String, x: i64) -> Result<serde_json::Value, echorpc::Error>;
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

    async fn relay(&self, client_id: String, x: i64) -> Result<serde_json::Value, echorpc::Error> {
        self.server
            .client(&client_id)
            .request("double", serde_json::json!({ "x": x }))
            .await
    }
}

/// What the command line asks for.
#[derive(Default)]
struct Options {
    tls: bool,
    axum: bool,
    /// Redis URL and node name.
    cluster: Option<(String, String)>,
}

const USAGE: &str = "usage: bench-server-ours [--tls | --axum] [--cluster REDIS_URL NODE]";

fn options() -> Result<Options, String> {
    let mut options = Options::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--tls" => options.tls = true,
            "--axum" => options.axum = true,
            "--cluster" => match (args.next(), args.next()) {
                (Some(url), Some(node)) => options.cluster = Some((url, node)),
                _ => return Err(USAGE.to_string()),
            },
            _ => return Err(USAGE.to_string()),
        }
    }
    if options.tls && options.axum {
        return Err(USAGE.to_string());
    }
    Ok(options)
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
    let options = options()?;
    let (use_tls, use_axum) = (options.tls, options.axum);
    let mut builder = Server::builder()
        .host("127.0.0.1")
        .port(0)
        .limits(Limits::default().with_max_connections(20_000));
    if use_tls {
        builder = builder.tls(tls()?);
    }
    if let Some((url, node)) = options.cluster {
        builder = builder.cluster(echorpc::cluster::ClusterConfig::redis(url).node(node));
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
