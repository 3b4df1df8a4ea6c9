//! A client offers a service to the server; the server calls it through the connection.

use echorpc::{Client, Connection, Error};

#[echorpc::service]
pub trait Callbacks {
    async fn double(&self, x: i64) -> i64;
    #[echorpc(event)]
    async fn notice(&self, text: String);
}

#[echorpc::service]
pub trait Api {
    async fn run(&self, conn: &Connection) -> Result<i64, Error>;
}

struct Server;

impl Api for Server {
    async fn run(&self, conn: &Connection) -> Result<i64, Error> {
        let callbacks = CallbacksClient::new(conn);
        callbacks.notice("working".into()).await?;
        callbacks.double(21).await
    }
}

struct Mine;

impl Callbacks for Mine {
    async fn double(&self, x: i64) -> i64 {
        x * 2
    }
    async fn notice(&self, _text: String) {}
}

fn main() {
    let client = Client::builder("ws://127.0.0.1:9100").build();
    client.mount(CallbacksServer::new(Mine)).unwrap();
    let _ = ApiServer::new(Server);
}
