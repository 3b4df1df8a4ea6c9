//! The contract of `tests/interop/CONTRACT.md` §2 on our side: the typed `Contract` service
//! (served by [`RustServer`], called on `py_server.py` through the generated `ContractClient`),
//! the client-side `Callbacks` service, and the same server written against the untyped API.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use echorpc::{AuthRequest, Connection, Error, Server};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{Log, TOKEN};

/// The result of `add`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sum {
    pub sum: i64,
}

/// The result of `whoami`: what the server knows of the calling connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhoAmI {
    pub role: String,
    pub client_id: String,
    pub tier: Option<String>,
}

/// The contract's command set. Our [`RustServer`] implements it; `ContractClient` calls it on
/// either server (ours or `py_server.py`).
#[echorpc::service]
pub trait Contract {
    /// `{"a","b"}` → `{"sum": a+b}`.
    async fn add(&self, a: i64, b: i64) -> Sum;
    /// `{"x"}` → `x*2`.
    async fn double(&self, x: i64) -> i64;
    /// The caller's role, client id and the `tier` its auth returned.
    async fn whoami(&self, conn: &Connection) -> WhoAmI;
    /// Fails with exactly this error (`data` left out when `None`).
    async fn fail(&self, code: i64, message: String, data: Option<Value>) -> Result<(), Error>;
    /// Fails with `-32603 "boom"`.
    async fn boom(&self) -> Result<(), Error>;
    /// Calls the caller's `double` (its `Callbacks` service) and returns what it returned.
    async fn ask_double(&self, conn: &Connection, x: i64) -> Result<i64, Error>;
    /// Broadcasts `chat {"text"}`: to all but the caller, to one role, or to all.
    async fn announce(
        &self,
        conn: &Connection,
        text: String,
        role: Option<String>,
        except_me: Option<bool>,
    ) -> Result<(), Error>;
    /// Publishes `event` with `data` to the caller only.
    async fn emit(
        &self,
        conn: &Connection,
        event: String,
        data: Option<Value>,
    ) -> Result<(), Error>;
    /// Answers `"slept"` after `ms` milliseconds.
    async fn sleep(&self, ms: u64) -> String;
    /// A client's chat, rebroadcast to every other connection.
    #[echorpc(event)]
    async fn chat(&self, conn: &Connection, data: Value);
}

/// What a client offers the server: the `double` that `ask_double` calls back.
#[echorpc::service]
pub trait Callbacks {
    /// `{"x"}` → `x*2`.
    async fn double(&self, x: i64) -> i64;
}

/// The contract's behaviour, for [`RustServer`].
struct ContractImpl {
    events: ContractEvents,
    seen: Log,
}

impl Contract for ContractImpl {
    async fn add(&self, a: i64, b: i64) -> Sum {
        Sum { sum: a + b }
    }

    async fn double(&self, x: i64) -> i64 {
        x * 2
    }

    async fn whoami(&self, conn: &Connection) -> WhoAmI {
        let meta = conn.meta();
        WhoAmI {
            role: meta.role().to_owned(),
            client_id: meta.client_id().to_owned(),
            tier: meta.get("tier").and_then(Value::as_str).map(str::to_owned),
        }
    }

    async fn fail(&self, code: i64, message: String, data: Option<Value>) -> Result<(), Error> {
        let err = Error::new(code, message);
        Err(match data {
            Some(data) if !data.is_null() => err.with_data(data),
            _ => err,
        })
    }

    async fn boom(&self) -> Result<(), Error> {
        Err(Error::internal("boom"))
    }

    async fn ask_double(&self, conn: &Connection, x: i64) -> Result<i64, Error> {
        CallbacksClient::new(conn).double(x).await
    }

    async fn announce(
        &self,
        conn: &Connection,
        text: String,
        role: Option<String>,
        except_me: Option<bool>,
    ) -> Result<(), Error> {
        let data = json!({ "text": text });
        if except_me == Some(true) {
            self.events.chat_except(conn, &data)?;
        } else if let Some(role) = &role {
            self.events.chat_to_role(role, &data)?;
        } else {
            self.events.chat(&data)?;
        }
        Ok(())
    }

    async fn emit(
        &self,
        conn: &Connection,
        event: String,
        data: Option<Value>,
    ) -> Result<(), Error> {
        conn.publish(&event, data).await
    }

    async fn sleep(&self, ms: u64) -> String {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        "slept".to_owned()
    }

    async fn chat(&self, conn: &Connection, data: Value) {
        record_chat(&self.seen, conn, &data);
        let _ = self.events.chat_except(conn, &data);
    }
}

/// A client's `Callbacks`: doubles, counting its calls. Mount it with
/// `client.mount(CallbacksServer::from_arc(Arc::clone(&doubler)))` to keep the count at hand.
#[derive(Debug, Default)]
pub struct Doubler {
    pub calls: std::sync::atomic::AtomicUsize,
}

impl Callbacks for Doubler {
    async fn double(&self, x: i64) -> i64 {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        x * 2
    }
}

/// Which API the server is written against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// `server.mount(ContractServer::new(…))`: the typed service.
    Typed,
    /// One `server.register(…)` per command with closures.
    Untyped,
}

/// Timing of a [`RustServer`].
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub ping_interval: Duration,
    pub pong_timeout: Duration,
    pub request_timeout: Duration,
}

impl Default for Timing {
    /// The protocol's heartbeat defaults, a 5 s request timeout.
    fn default() -> Self {
        Self {
            ping_interval: echorpc::DEFAULT_PING_INTERVAL,
            pong_timeout: echorpc::DEFAULT_PONG_TIMEOUT,
            request_timeout: Duration::from_secs(5),
        }
    }
}

/// Our `Server` with the contract's auth, commands and `chat` rebroadcast, on 127.0.0.1.
/// What it observes (auth checks, connects, disconnects, chats) goes to `seen` as JSON lines
/// with a `"kind"`.
#[derive(Debug)]
pub struct RustServer {
    pub server: Server,
    pub addr: SocketAddr,
    pub seen: Log,
    timing: Timing,
    api: Api,
    /// Serves `wss://` with this certificate when set.
    tls: Option<echorpc::tls::ServerTls>,
}

impl RustServer {
    /// The typed server on a free port.
    pub async fn start(timing: Timing) -> Self {
        Self::start_on(timing, Api::Typed, 0, Log::default(), None).await
    }

    /// The server written with `register`/`subscribe` closures, on a free port.
    pub async fn start_with(api: Api, timing: Timing) -> Self {
        Self::start_on(timing, api, 0, Log::default(), None).await
    }

    /// The typed server serving `wss://` with `tls`, on a free port.
    pub async fn start_tls(timing: Timing, tls: echorpc::tls::ServerTls) -> Self {
        Self::start_on(timing, Api::Typed, 0, Log::default(), Some(tls)).await
    }

    async fn start_on(
        timing: Timing,
        api: Api,
        port: u16,
        seen: Log,
        tls: Option<echorpc::tls::ServerTls>,
    ) -> Self {
        // Rebinding a port just released can fail for a moment (the old accept task is being
        // dropped); retry briefly.
        let mut last = None;
        for _ in 0..25 {
            let server = build(timing, api, port, &seen, tls.clone());
            match server.start().await {
                Ok(addr) => {
                    return Self {
                        server,
                        addr,
                        seen,
                        timing,
                        api,
                        tls,
                    };
                }
                Err(err) => {
                    last = Some(err);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        panic!("contract server could not listen on port {port}: {last:?}");
    }

    /// `ws://` or, with TLS, `wss://` and the address.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "wss" } else { "ws" };
        format!("{scheme}://{}", self.addr)
    }

    /// Stops the server (closing every connection) and starts a fresh one on the same port
    /// after `down` without a listener. Observations go on in the same `seen` log.
    pub async fn restart(self, down: Duration) -> Self {
        let Self {
            server,
            addr,
            seen,
            timing,
            api,
            tls,
        } = self;
        server.stop().await;
        seen.push(json!({"kind": "restarted"}));
        tokio::time::sleep(down).await;
        Self::start_on(timing, api, addr.port(), seen, tls).await
    }

    /// The one open connection whose `client_id` is `client_id`, waiting up to 5 s for it.
    pub async fn connection_of(&self, client_id: &str) -> Connection {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let found: Vec<Connection> = self
                .server
                .connections()
                .into_iter()
                .filter(|c| c.meta().client_id() == client_id)
                .collect();
            if let [conn] = found.as_slice() {
                return conn.clone();
            }
            assert!(
                Instant::now() < deadline,
                "expected one connection of {client_id}, found {}",
                found.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn meta_value(conn: &Connection) -> Value {
    Value::Object(conn.meta().to_map())
}

fn record_chat(seen: &Log, conn: &Connection, data: &Value) {
    seen.push(json!({
        "kind": "chat",
        "client_id": conn.meta().client_id(),
        "data": data,
        "meta": meta_value(conn),
    }));
}

/// The server with auth and hooks; the commands per `api`.
fn build(
    timing: Timing,
    api: Api,
    port: u16,
    seen: &Log,
    tls: Option<echorpc::tls::ServerTls>,
) -> Server {
    let auth_log = seen.clone();
    let mut builder = Server::builder();
    if let Some(tls) = tls {
        builder = builder.tls(tls);
    }
    let server = builder
        .host("127.0.0.1")
        .port(port)
        .ping_interval(timing.ping_interval)
        .pong_timeout(timing.pong_timeout)
        .request_timeout(timing.request_timeout)
        .auth(move |req: &AuthRequest| {
            let accepted = req.token == TOKEN;
            auth_log.push(json!({
                "kind": "auth",
                "token": req.token,
                "role": req.role,
                "client_id": req.client_id,
                "path": req.path,
                "accepted": accepted,
            }));
            accepted.then(|| {
                let mut extra = Map::new();
                extra.insert("tier".into(), json!("gold"));
                extra
            })
        })
        .build();
    let log = seen.clone();
    server.on_connect(move |conn| {
        log.push(json!({"kind": "connect", "meta": meta_value(&conn)}));
        async {}
    });
    let log = seen.clone();
    server.on_disconnect(move |conn| {
        log.push(json!({"kind": "disconnect", "meta": meta_value(&conn)}));
        async {}
    });
    match api {
        Api::Typed => server
            .mount(ContractServer::new(ContractImpl {
                events: ContractEvents::new(&server),
                seen: seen.clone(),
            }))
            .expect("mount the contract"),
        Api::Untyped => register_untyped(&server, seen),
    }
    server
}

#[derive(Debug, Deserialize)]
struct AddParams {
    a: i64,
    b: i64,
}

#[derive(Debug, Deserialize)]
struct XParams {
    x: i64,
}

#[derive(Debug, Deserialize)]
struct FailParams {
    code: i64,
    message: String,
    #[serde(default)]
    data: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct AnnounceParams {
    text: String,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    except_me: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct EmitParams {
    event: String,
    #[serde(default)]
    data: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct SleepParams {
    ms: u64,
}

/// The same contract with the untyped API: one `register` per command.
fn register_untyped(server: &Server, seen: &Log) {
    server
        .register("add", |p: AddParams, _| async move {
            Ok::<_, Error>(json!({ "sum": p.a + p.b }))
        })
        .expect("register add");
    server
        .register(
            "double",
            |p: XParams, _| async move { Ok::<_, Error>(p.x * 2) },
        )
        .expect("register double");
    server
        .register("whoami", |_: Value, conn: Connection| async move {
            let meta = conn.meta();
            Ok::<_, Error>(json!({
                "role": meta.role(),
                "client_id": meta.client_id(),
                "tier": meta.get("tier"),
            }))
        })
        .expect("register whoami");
    server
        .register("fail", |p: FailParams, _| async move {
            let err = Error::new(p.code, p.message);
            Err::<Value, _>(match p.data {
                Some(data) if !data.is_null() => err.with_data(data),
                _ => err,
            })
        })
        .expect("register fail");
    server
        .register("boom", |_: Value, _| async {
            Err::<Value, _>(Error::internal("boom"))
        })
        .expect("register boom");
    server
        .register("ask_double", |p: XParams, conn: Connection| async move {
            conn.request("double", json!({ "x": p.x })).await
        })
        .expect("register ask_double");
    let me = server.clone();
    server
        .register("announce", move |p: AnnounceParams, conn: Connection| {
            let server = me.clone();
            async move {
                let data = json!({ "text": p.text });
                if p.except_me == Some(true) {
                    server.broadcast_except(&conn, "chat", &data)?;
                } else if let Some(role) = &p.role {
                    server.broadcast_to_role(role, "chat", &data)?;
                } else {
                    server.broadcast("chat", &data)?;
                }
                Ok::<_, Error>(Value::Null)
            }
        })
        .expect("register announce");
    server
        .register("emit", |p: EmitParams, conn: Connection| async move {
            conn.publish(&p.event, p.data.unwrap_or(Value::Null))
                .await?;
            Ok::<_, Error>(Value::Null)
        })
        .expect("register emit");
    server
        .register("sleep", |p: SleepParams, _| async move {
            tokio::time::sleep(Duration::from_millis(p.ms)).await;
            Ok::<_, Error>("slept")
        })
        .expect("register sleep");
    let me = server.clone();
    let log = seen.clone();
    server
        .subscribe("chat", move |data: Value, conn: Connection| {
            record_chat(&log, &conn, &data);
            let server = me.clone();
            async move {
                let _ = server.broadcast_except(&conn, "chat", &data);
            }
        })
        .expect("subscribe chat");
}
