//! Shared by the `service_*` tests: the typed services under test, their implementations, and
//! servers and clients on 127.0.0.1 port 0. Every step of a test is bounded by [`within`].

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use echorpc::{Client, ClientBuilder, Connection, Error, Server, ServerBuilder};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// How long one step of a test may take before it counts as hung.
pub const STEP: Duration = Duration::from_secs(5);

/// Awaits `fut`, failing the test when it takes longer than [`STEP`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(STEP, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

pub fn local_server() -> ServerBuilder {
    Server::builder().host("127.0.0.1").port(0)
}

pub async fn start(server: &Server) -> SocketAddr {
    within("server start", server.start())
        .await
        .expect("server starts")
}

pub fn client_for(addr: SocketAddr) -> ClientBuilder {
    Client::builder(format!("ws://{addr}"))
}

/// Connects, then makes one round trip: once the server has answered anything, it has
/// registered the connection (so `server.connections()` and broadcasts see it).
pub async fn connect(client: &Client) {
    within("connect", client.connect())
        .await
        .expect("client connects");
    let answer = within(
        "first round trip",
        client.request("__no_such_method", Value::Null),
    )
    .await;
    assert_eq!(
        answer.unwrap_err().code(),
        Some(echorpc::ErrorCode::METHOD_NOT_FOUND)
    );
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Sum {
    pub sum: i64,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Time {
    pub unix: u64,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Chat {
    pub text: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Who {
    pub role: String,
    pub client_id: String,
    pub tier: Option<String>,
}

/// A user error type that reaches the caller through `From<MathError> for echorpc::Error`.
#[derive(Debug)]
pub enum MathError {
    DivideByZero { dividend: i64 },
}

impl From<MathError> for Error {
    fn from(err: MathError) -> Self {
        match err {
            MathError::DivideByZero { dividend } => {
                Error::new(4001, "divide by zero").with_data(json!({ "dividend": dividend }))
            }
        }
    }
}

/// The server's service.
#[echorpc::service]
pub trait Calc {
    /// `{"a":1,"b":2}` → `{"sum":3}`.
    async fn add(&self, a: i64, b: i64) -> Sum;
    /// Wire name override.
    #[echorpc(name = "server.time")]
    async fn time(&self) -> Result<Time, Error>;
    /// A user error type.
    async fn divide(&self, a: i64, b: i64) -> Result<i64, MathError>;
    /// Fails with exactly this error.
    async fn fail(&self, code: i64, message: String, data: Option<Value>) -> Result<(), Error>;
    /// Panics when asked to.
    async fn boom(&self, really: bool) -> i64;
    /// The one argument is the params value.
    #[echorpc(params = "whole")]
    async fn echo(&self, value: Value) -> Value;
    /// Reads the calling connection's metadata.
    async fn whoami(&self, conn: &Connection) -> Who;
    /// Calls back into the calling client's `Callbacks`.
    async fn ask_double(&self, conn: &Connection, x: i64) -> Result<i64, Error>;
    /// Waits across `.await`s before answering (a `Send` future on any runtime).
    async fn slow_add(&self, a: i64, b: i64, millis: u64) -> i64;
    /// Chat from a client: recorded, then relayed to every other client.
    #[echorpc(event)]
    async fn chat(&self, conn: &Connection, msg: Chat);
    /// An event with named data.
    #[echorpc(event)]
    async fn moved(&self, x: i64, y: i64);
}

/// What clients offer the server.
#[echorpc::service]
pub trait Callbacks {
    /// `{"x":21}` → `42`.
    async fn double(&self, x: i64) -> i64;
    /// An event the server sends or broadcasts.
    #[echorpc(event)]
    async fn notice(&self, msg: Chat);
}

/// A namespaced service: wire names `calc.add`, `calc.minus`.
#[echorpc::service(namespace = "calc.")]
pub trait Spaced {
    async fn add(&self, a: i64, b: i64) -> i64;
    #[echorpc(name = "minus")]
    async fn subtract(&self, a: i64, b: i64) -> i64;
}

/// What the server's `Calc` saw: events in arrival order.
#[derive(Debug, PartialEq)]
pub enum Seen {
    Chat { from: String, text: String },
    Moved(i64, i64),
}

/// The server's `Calc`.
pub struct CalcImpl {
    pub server: Server,
    pub seen: mpsc::UnboundedSender<Seen>,
}

impl Calc for CalcImpl {
    async fn add(&self, a: i64, b: i64) -> Sum {
        Sum { sum: a + b }
    }

    async fn time(&self) -> Result<Time, Error> {
        Ok(Time {
            unix: 1_700_000_000,
        })
    }

    async fn divide(&self, a: i64, b: i64) -> Result<i64, MathError> {
        if b == 0 {
            Err(MathError::DivideByZero { dividend: a })
        } else {
            Ok(a / b)
        }
    }

    async fn fail(&self, code: i64, message: String, data: Option<Value>) -> Result<(), Error> {
        let err = Error::new(code, message);
        Err(match data {
            Some(data) => err.with_data(data),
            None => err,
        })
    }

    async fn boom(&self, really: bool) -> i64 {
        assert!(!really, "boom on request");
        0
    }

    async fn echo(&self, value: Value) -> Value {
        value
    }

    async fn whoami(&self, conn: &Connection) -> Who {
        let meta = conn.meta();
        Who {
            role: meta.role().to_owned(),
            client_id: meta.client_id().to_owned(),
            tier: meta.get("tier").and_then(Value::as_str).map(str::to_owned),
        }
    }

    async fn ask_double(&self, conn: &Connection, x: i64) -> Result<i64, Error> {
        CallbacksClient::new(conn).double(x).await
    }

    async fn slow_add(&self, a: i64, b: i64, millis: u64) -> i64 {
        tokio::time::sleep(Duration::from_millis(millis)).await;
        tokio::task::yield_now().await;
        a + b
    }

    async fn chat(&self, conn: &Connection, msg: Chat) {
        let from = conn.meta().client_id().to_owned();
        let _ = self.seen.send(Seen::Chat {
            from,
            text: msg.text.clone(),
        });
        let _ = CallbacksEvents::new(&self.server).notice_except(conn, &msg);
    }

    async fn moved(&self, x: i64, y: i64) {
        let _ = self.seen.send(Seen::Moved(x, y));
    }
}

/// A client's `Callbacks`: doubles, and forwards notices to a channel.
pub struct CallbacksImpl {
    pub notices: mpsc::UnboundedSender<String>,
}

impl Callbacks for CallbacksImpl {
    async fn double(&self, x: i64) -> i64 {
        x * 2
    }

    async fn notice(&self, msg: Chat) {
        let _ = self.notices.send(msg.text);
    }
}

/// A server with `Calc` mounted, started; the receiver gets what its events saw.
pub async fn calc_server(
    builder: ServerBuilder,
) -> (Server, SocketAddr, mpsc::UnboundedReceiver<Seen>) {
    let server = builder.build();
    let (seen, rx) = mpsc::unbounded_channel();
    server
        .mount(CalcServer::new(CalcImpl {
            server: server.clone(),
            seen,
        }))
        .expect("mount Calc");
    let addr = start(&server).await;
    (server, addr, rx)
}

/// A connected client with `Callbacks` mounted; the receiver gets its notices.
pub async fn callbacks_client(builder: ClientBuilder) -> (Client, mpsc::UnboundedReceiver<String>) {
    let client = builder.build();
    let (notices, rx) = mpsc::unbounded_channel();
    client
        .mount(CallbacksServer::new(CallbacksImpl { notices }))
        .expect("mount Callbacks");
    connect(&client).await;
    (client, rx)
}
