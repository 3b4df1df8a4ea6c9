//! The generated code names everything by absolute paths: a service compiles and works in a
//! module without the prelude, and in one that shadows the prelude's names, with no `use` of
//! serde or futures anywhere.

#![allow(dead_code, unreachable_pub, missing_docs)]

#[no_implicit_prelude]
mod bare {
    /// A service declared where nothing of the prelude is in scope.
    #[::echorpc::service(namespace = "bare.")]
    pub trait Bare {
        /// Named params.
        async fn add(&self, a: i64, b: i64) -> i64;
        /// Fallible, with the connection.
        async fn who(
            &self,
            conn: &::echorpc::Connection,
        ) -> ::std::result::Result<::std::string::String, ::echorpc::Error>;
        /// Whole params.
        #[echorpc(params = "whole")]
        async fn total(&self, values: ::std::vec::Vec<i64>) -> i64;
        /// No params, no result.
        async fn nothing(&self);
        /// An event with named params.
        #[echorpc(event)]
        async fn moved(&self, x: i64, y: ::std::option::Option<i64>);
        /// An event with its data as params.
        #[echorpc(event)]
        async fn said(&self, text: ::std::string::String);
    }
}

/// The prelude's names, shadowed by types of the same names. (Primitive types such as `str` are
/// not shadowed: serde's own derive, which the generated code uses, does not allow that.)
mod shadowed {
    #![allow(non_camel_case_types)]
    pub struct Result;
    pub struct Option;
    pub struct Box;
    pub struct Vec;
    pub struct String;
    pub struct Send;
    pub struct Sync;
    pub struct Clone;
    pub struct Debug;
    pub struct Ok;
    pub struct Err;
    pub struct Some;
    pub struct None;
    pub struct Arc;
    pub struct Future;
    pub struct Serialize;
    pub struct Deserialize;
    pub struct Params;
    pub struct Service;
    pub struct Peer;
    pub struct Error;
    pub struct Connection;
    pub trait Into {}
    pub trait From {}
    pub trait Default {}
    pub trait Drop {}
    pub trait Fn {}
    pub trait Sized {}
    pub mod serde {}
    pub mod echorpc_private {}
    pub mod core {}
    pub mod std {}

    /// A service declared among shadowing names.
    #[::echorpc::service]
    pub trait Shadowed {
        /// A call.
        async fn double(&self, x: i64) -> i64;
        /// A call that can fail.
        async fn check(&self, ok: bool) -> ::std::result::Result<i64, ::echorpc::Error>;
        /// An event.
        #[echorpc(event)]
        async fn note(&self, what: ::std::string::String);
    }
}

use std::sync::Arc;
use std::time::Duration;

use echorpc::{Client, Connection, Error, Server};
use tokio::sync::mpsc;

struct BareImpl(mpsc::UnboundedSender<String>);

impl bare::Bare for BareImpl {
    async fn add(&self, a: i64, b: i64) -> i64 {
        a + b
    }
    async fn who(&self, conn: &Connection) -> Result<String, Error> {
        Ok(conn.meta().role().to_owned())
    }
    async fn total(&self, values: Vec<i64>) -> i64 {
        values.iter().sum()
    }
    async fn nothing(&self) {}
    async fn moved(&self, x: i64, y: Option<i64>) {
        let _ = self.0.send(format!("moved {x} {y:?}"));
    }
    async fn said(&self, text: String) {
        let _ = self.0.send(format!("said {text}"));
    }
}

struct ShadowedImpl(mpsc::UnboundedSender<String>);

impl shadowed::Shadowed for ShadowedImpl {
    async fn double(&self, x: i64) -> i64 {
        x * 2
    }
    async fn check(&self, ok: bool) -> Result<i64, Error> {
        if ok {
            Ok(1)
        } else {
            Err(Error::new(7, "not ok"))
        }
    }
    async fn note(&self, what: String) {
        let _ = self.0.send(what);
    }
}

async fn step<T>(fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(5), fut)
        .await
        .expect("step timed out")
}

#[tokio::test]
async fn services_without_prelude_or_with_shadowed_names_work() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let server = Server::builder().host("127.0.0.1").port(0).build();
    server
        .mount(bare::BareServer::new(BareImpl(tx.clone())))
        .unwrap();
    server
        .mount(shadowed::ShadowedServer::from_arc(Arc::new(ShadowedImpl(
            tx,
        ))))
        .unwrap();
    let addr = step(server.start()).await.unwrap();
    let client = Client::builder(format!("ws://{addr}")).role("ops").build();
    step(client.connect()).await.unwrap();

    let bare = bare::BareClient::new(&client);
    assert_eq!(step(bare.add(1, 2)).await.unwrap(), 3);
    assert_eq!(step(bare.who()).await.unwrap(), "ops");
    assert_eq!(step(bare.total(vec![1, 2, 3])).await.unwrap(), 6);
    step(bare.nothing()).await.unwrap();
    step(bare.moved(1, None)).await.unwrap();
    step(bare.said("hi".into())).await.unwrap();
    assert_eq!(step(rx.recv()).await.unwrap(), "moved 1 None");
    assert_eq!(step(rx.recv()).await.unwrap(), "said hi");

    let shadowed = shadowed::ShadowedClient::new(client.clone());
    assert_eq!(step(shadowed.double(21)).await.unwrap(), 42);
    assert_eq!(step(shadowed.check(true)).await.unwrap(), 1);
    assert_eq!(
        step(shadowed.check(false)).await.unwrap_err().message(),
        "not ok"
    );
    step(shadowed.note("n".into())).await.unwrap();
    assert_eq!(step(rx.recv()).await.unwrap(), "n");

    // The broadcast helpers compile and run in both modules too.
    assert_eq!(
        bare::BareEvents::new(&server)
            .said_to_role("nobody", &"x".to_owned())
            .unwrap(),
        0
    );
    assert_eq!(
        shadowed::ShadowedEvents::new(&server)
            .note(&"x".to_owned())
            .unwrap(),
        1
    );

    step(client.disconnect()).await;
    step(server.stop()).await;
}
