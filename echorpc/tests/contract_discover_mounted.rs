//! `rpc.discover` answered from what is mounted (`Api::discover_mounted`, feature `schema`):
//! every generated service mounted on that side is in the document, whether it was mounted
//! before or after the discover service, without being named in the `Api`; the answer equals
//! the document of an `Api` naming the same services by hand; methods without a contract are
//! listed by name; unregistering and replacing handlers change the answer; a client answers
//! for what is mounted on it.

use std::time::Duration;

use echorpc::contract::{Api, DISCOVER};
use echorpc::{Client, Connection, Error, Server};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Something for sale.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct Item {
    /// Its name.
    pub name: String,
    /// Its price in cents.
    pub cents: u32,
}

/// A chat line.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct Line {
    /// Who wrote it.
    pub from: String,
    /// What they wrote.
    pub text: String,
}

/// The shop.
#[echorpc::service(namespace = "shop.")]
pub trait Shop {
    /// The item with this name.
    async fn item(&self, name: String) -> Option<Item>;
    /// Buys items.
    async fn buy(&self, items: Vec<Item>) -> Result<u32, Error>;
}

/// The chat room.
#[echorpc::service(namespace = "chat.")]
pub trait Chat {
    /// Says something.
    async fn say(&self, line: Line) -> u64;
    /// The last lines.
    async fn history(&self, last: Option<u32>) -> Vec<Line>;
    /// Someone is typing.
    #[echorpc(event)]
    async fn typing(&self, from: String);
}

/// What the server calls on its clients.
#[echorpc::service(namespace = "ui.")]
pub trait Screen {
    /// Shows a line.
    async fn show(&self, line: Line) -> bool;
}

/// Not a schema type.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
pub struct Opaque {
    /// A number.
    pub n: u8,
}

/// A service whose types do not derive `JsonSchema`: it mounts, its methods have no schema.
#[echorpc::service]
pub trait Plain {
    /// Adds one.
    async fn bump(&self, o: Opaque) -> Opaque;
}

/// The generated code, with the contract record it makes at mount, names nothing from the
/// prelude.
pub mod no_prelude {
    #![no_implicit_prelude]

    /// A service compiled without the prelude.
    #[::echorpc::service(namespace = "bare.")]
    pub trait Bare {
        /// A number.
        async fn get(&self) -> u32;
    }
}

struct BareImpl;

impl no_prelude::Bare for BareImpl {
    async fn get(&self) -> u32 {
        7
    }
}

struct ShopImpl;

impl Shop for ShopImpl {
    async fn item(&self, name: String) -> Option<Item> {
        Some(Item { name, cents: 250 })
    }
    async fn buy(&self, items: Vec<Item>) -> Result<u32, Error> {
        Ok(items.iter().map(|item| item.cents).sum())
    }
}

struct ChatImpl;

impl Chat for ChatImpl {
    async fn say(&self, _line: Line) -> u64 {
        1
    }
    async fn history(&self, _last: Option<u32>) -> Vec<Line> {
        Vec::new()
    }
    async fn typing(&self, _from: String) {}
}

struct ScreenImpl;

impl Screen for ScreenImpl {
    async fn show(&self, _line: Line) -> bool {
        true
    }
}

struct PlainImpl;

impl Plain for PlainImpl {
    async fn bump(&self, o: Opaque) -> Opaque {
        Opaque { n: o.n + 1 }
    }
}

const TIMEOUT: Duration = Duration::from_secs(10);

fn base() -> Api {
    Api::new("shop and chat", "3.1.0")
        .description("Everything mounted.")
        .callbacks::<ScreenContract>()
}

async fn discover(client: &Client) -> Value {
    tokio::time::timeout(TIMEOUT, client.request(DISCOVER, Value::Null))
        .await
        .expect("rpc.discover answered in time")
        .expect("rpc.discover succeeded")
}

fn names(doc: &Value, key: &str) -> Vec<String> {
    doc[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} is an array in {doc}"))
        .iter()
        .map(|method| method["name"].as_str().unwrap().to_owned())
        .collect()
}

fn method<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["methods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|method| method["name"] == name)
        .unwrap_or_else(|| panic!("{name} is not in {doc}"))
}

#[tokio::test]
async fn lists_services_mounted_before_and_after_it_over_a_socket() {
    let server = Server::builder().host("127.0.0.1").port(0).build();
    server.mount(ShopServer::new(ShopImpl)).unwrap();
    // Neither service is named in the `Api`.
    server.mount(base().discover_mounted()).unwrap();
    server.mount(ChatServer::new(ChatImpl)).unwrap();
    let addr = server.start().await.unwrap();
    let client = Client::builder(format!("ws://{addr}")).build();
    tokio::time::timeout(TIMEOUT, client.connect())
        .await
        .unwrap()
        .unwrap();

    let doc = discover(&client).await;
    assert_eq!(
        names(&doc, "methods"),
        [
            "shop.item",
            "shop.buy",
            "chat.say",
            "chat.history",
            "chat.typing"
        ]
    );
    assert_eq!(names(&doc, "x-echorpc-callbacks"), ["ui.show"]);
    assert_eq!(doc["info"]["title"], "shop and chat");
    assert_eq!(doc["info"]["version"], "3.1.0");
    assert_eq!(doc["info"]["description"], "Everything mounted.");
    // The right schemas: each service's own types, shared ones defined once.
    assert_eq!(
        method(&doc, "shop.buy")["params"][0]["schema"]["items"]["$ref"],
        "#/components/schemas/Item"
    );
    assert_eq!(
        method(&doc, "chat.say")["params"][0]["schema"]["$ref"],
        "#/components/schemas/Line"
    );
    assert_eq!(method(&doc, "chat.typing")["x-echorpc-event"], true);
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    assert!(schemas.contains_key("Item") && schemas.contains_key("Line"));
    assert!(doc.get("x-echorpc-untyped").is_none(), "{doc}");
    // Exactly the document of the same set named by hand, in mount order.
    let by_hand = base()
        .service::<ShopContract>()
        .service::<ChatContract>()
        .openrpc();
    assert_eq!(doc, by_hand);
    // One service fewer is a different document: a missing service is caught.
    assert_ne!(doc, base().service::<ShopContract>().openrpc());

    // The services still answer next to it, and asking again gives the same answer.
    let bought = ShopClient::new(&client)
        .buy(vec![Item {
            name: "tea".into(),
            cents: 300,
        }])
        .await
        .unwrap();
    assert_eq!(bought, 300);
    assert_eq!(discover(&client).await, by_hand);

    client.disconnect().await;
    server.stop().await;
}

#[tokio::test]
async fn a_service_generated_without_the_prelude_is_recorded() {
    let server = Server::builder().build();
    server.mount(base().discover_mounted()).unwrap();
    server.mount(no_prelude::BareServer::new(BareImpl)).unwrap();
    let client = server
        .connect_in_memory(Client::builder("memory"))
        .await
        .unwrap();
    assert_eq!(
        discover(&client).await,
        base().service::<no_prelude::BareContract>().openrpc()
    );
    client.disconnect().await;
}

#[tokio::test]
async fn services_named_in_the_api_are_listed_once_and_remounting_adds_nothing() {
    let server = Server::builder().build();
    // `Chat` is named and mounted; `Shop` mounted twice.
    server
        .mount(base().service::<ChatContract>().discover_mounted())
        .unwrap();
    server.mount(ShopServer::new(ShopImpl)).unwrap();
    server.mount(ChatServer::new(ChatImpl)).unwrap();
    server.mount(ShopServer::new(ShopImpl)).unwrap();
    let client = server
        .connect_in_memory(Client::builder("memory"))
        .await
        .unwrap();
    let doc = discover(&client).await;
    assert_eq!(
        doc,
        base()
            .service::<ChatContract>()
            .service::<ShopContract>()
            .openrpc()
    );
    client.disconnect().await;
}

#[tokio::test]
async fn methods_without_a_contract_are_listed_by_name() {
    let server = Server::builder().build();
    server.mount(base().discover_mounted()).unwrap();
    server.mount(ShopServer::new(ShopImpl)).unwrap();
    server.mount(PlainServer::new(PlainImpl)).unwrap();
    server
        .register("echo", |v: Value, _conn: Connection| async move {
            Ok::<_, Error>(v)
        })
        .unwrap();
    server
        .subscribe("tick", |_v: Value, _conn: Connection| async move {})
        .unwrap();
    let client = server
        .connect_in_memory(Client::builder("memory"))
        .await
        .unwrap();
    let doc = discover(&client).await;
    // `Plain`'s types have no schema: its method is there by name only, like `echo`.
    assert_eq!(
        doc["x-echorpc-untyped"],
        json!({ "methods": ["bump", "echo"], "events": ["tick"] })
    );
    assert_eq!(names(&doc, "methods"), ["shop.item", "shop.buy"]);
    let mut expected = base().service::<ShopContract>().openrpc();
    expected["x-echorpc-untyped"] = doc["x-echorpc-untyped"].clone();
    assert_eq!(doc, expected);
    // And they still answer.
    let out = PlainClient::new(&client)
        .bump(Opaque { n: 1 })
        .await
        .unwrap();
    assert_eq!(out, Opaque { n: 2 });
    client.disconnect().await;
}

#[tokio::test]
async fn the_answer_follows_unregister_replace_and_remount() {
    let server = Server::builder().build();
    server.mount(ShopServer::new(ShopImpl)).unwrap();
    server.mount(ChatServer::new(ChatImpl)).unwrap();
    server.mount(base().discover_mounted()).unwrap();
    let client = server
        .connect_in_memory(Client::builder("memory"))
        .await
        .unwrap();
    let full = base()
        .service::<ShopContract>()
        .service::<ChatContract>()
        .openrpc();
    assert_eq!(discover(&client).await, full);

    // An unregistered method leaves the document (the cached one is not reused).
    assert!(server.unregister("chat.history"));
    let doc = discover(&client).await;
    assert_eq!(
        names(&doc, "methods"),
        ["shop.item", "shop.buy", "chat.say", "chat.typing"]
    );
    assert!(doc.get("x-echorpc-untyped").is_none(), "{doc}");

    // A service with nothing left is left out, tag and all.
    assert!(server.unregister("chat.say"));
    assert_eq!(server.unsubscribe_all("chat.typing"), 1);
    let doc = discover(&client).await;
    assert_eq!(doc, base().service::<ShopContract>().openrpc());

    // A mounted method replaced by an untyped one has no schema any more.
    server
        .register("shop.item", |v: Value, _conn: Connection| async move {
            Ok::<_, Error>(v)
        })
        .unwrap();
    let doc = discover(&client).await;
    assert_eq!(names(&doc, "methods"), ["shop.buy"]);
    assert_eq!(
        doc["x-echorpc-untyped"],
        json!({ "methods": ["shop.item"], "events": [] })
    );

    // Mounting again lists everything again.
    server.mount(ShopServer::new(ShopImpl)).unwrap();
    server.mount(ChatServer::new(ChatImpl)).unwrap();
    assert_eq!(discover(&client).await, full);
    client.disconnect().await;
}

#[tokio::test]
async fn a_client_answers_with_what_is_mounted_on_it() {
    let server = Server::builder().build();
    let client = Client::builder("memory").no_reconnect().build();
    client
        .mount(
            Api::new("page", "1.0.0")
                .callbacks::<ShopContract>()
                .discover_mounted(),
        )
        .unwrap();
    client.mount(ScreenServer::new(ScreenImpl)).unwrap();
    let (ours, theirs) = echorpc::transport::memory::pair();
    let accepted = server.accept(ours, echorpc::AuthRequest::default());
    let (conn, connected) = tokio::join!(accepted, client.connect_over(theirs));
    let conn = conn.unwrap();
    connected.unwrap();
    let doc = tokio::time::timeout(TIMEOUT, conn.request(DISCOVER, Value::Null))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        doc,
        Api::new("page", "1.0.0")
            .service::<ScreenContract>()
            .callbacks::<ShopContract>()
            .openrpc()
    );
    client.disconnect().await;
}
