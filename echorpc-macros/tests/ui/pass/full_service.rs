//! Every supported shape in one trait, implemented with `async fn`, mounted and called.

use echorpc::{Client, Connection, Error, Server};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Serialize, Deserialize)]
pub struct Sum {
    pub sum: i64,
}

#[derive(Serialize, Deserialize)]
pub struct Chat {
    pub text: String,
}

#[echorpc::service(namespace = "calc.")]
pub trait Calc {
    async fn add(&self, a: i64, b: i64) -> Sum;
    #[echorpc(name = "server.time")]
    async fn time(&self) -> Result<u64, Error>;
    async fn whoami(&self, conn: &Connection) -> String;
    async fn keep(&self, conn: Connection) -> echorpc::Result<()>;
    #[echorpc(event)]
    async fn chat(&self, msg: Chat);
    #[echorpc(event, params = "named")]
    async fn chat_named(&self, msg: Chat);
    #[echorpc(params = "whole", timeout = "250ms")]
    async fn echo(&self, v: Value) -> Value;
    async fn optional(&self, a: Option<i64>, r#type: String) -> ();
}

struct Impl;

impl Calc for Impl {
    async fn add(&self, a: i64, b: i64) -> Sum {
        Sum { sum: a + b }
    }
    async fn time(&self) -> Result<u64, Error> {
        Ok(0)
    }
    async fn whoami(&self, conn: &Connection) -> String {
        conn.meta().client_id().to_owned()
    }
    async fn keep(&self, _conn: Connection) -> echorpc::Result<()> {
        Ok(())
    }
    async fn chat(&self, _msg: Chat) {}
    async fn chat_named(&self, _msg: Chat) {}
    async fn echo(&self, v: Value) -> Value {
        v
    }
    async fn optional(&self, _a: Option<i64>, _type: String) {}
}

async fn use_it(server: &Server, client: &Client) -> Result<(), Error> {
    server.mount(CalcServer::new(Impl))?;
    let calc = CalcClient::new(client);
    let Sum { sum: _ } = calc.add(1, 2).await?;
    let _: u64 = calc.time().await?;
    let _: String = calc.whoami().await?;
    calc.keep().await?;
    calc.chat(Chat { text: "hi".into() }).await?;
    calc.chat_named(Chat { text: "hi".into() }).await?;
    let _: Value = calc.echo(Value::Null).await?;
    calc.optional(None, "t".into()).await?;
    let events = CalcEvents::new(server);
    let msg = Chat { text: "all".into() };
    let _: usize = events.chat(&msg)?;
    let _: usize = events.chat_to_role("web", &msg)?;
    for conn in server.connections() {
        let _: usize = events.chat_except(&conn, &msg)?;
        CalcClient::new(&conn).chat(Chat { text: "one".into() }).await?;
    }
    Ok(())
}

fn main() {
    let _ = use_it;
}
