//! The contract of `#[echorpc::service]` traits (feature `schema`): the OpenRPC document, the
//! TypeScript module, `rpc.discover` over a real socket, and services whose types do not derive
//! `JsonSchema` still compiling while the feature is on.

use std::time::Duration;

use echorpc::contract::{Api, DISCOVER};
use echorpc::{Client, Error, ErrorCode, Server};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// A point on the board.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct Point {
    /// Across.
    pub x: i32,
    /// Down.
    pub y: i32,
    /// An optional label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// A move, tagged the way serde tags it.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Move {
    /// Go somewhere.
    Go {
        /// Where to.
        to: Point,
    },
    /// Stay put.
    Pass,
}

/// The board game.
#[echorpc::service(namespace = "game.")]
pub trait Game {
    /// Places a piece.
    ///
    /// Second paragraph.
    async fn place(&self, at: Point, note: Option<String>) -> Result<u64, Error>;
    /// Plays a move; the whole params are the move.
    #[echorpc(params = "whole")]
    async fn play(&self, m: Move) -> Vec<Point>;
    /// Resets the board.
    #[echorpc(name = "reset_all")]
    async fn reset(&self);
    /// Old name of `place`.
    #[deprecated = "use place"]
    async fn put(&self, at: Point) -> bool;
    /// Someone moved.
    #[echorpc(event)]
    async fn moved(&self, m: Move);
}

/// Not a schema type: a service using it must still compile with the feature on.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
pub struct Opaque {
    /// A number.
    pub n: u8,
}

/// A service whose types do not derive `JsonSchema`.
#[echorpc::service]
pub trait Plain {
    /// Adds one.
    async fn bump(&self, o: Opaque) -> Opaque;
}

struct Board;

#[allow(deprecated)]
impl Game for Board {
    async fn place(&self, at: Point, _note: Option<String>) -> Result<u64, Error> {
        Ok(u64::try_from(at.x).unwrap_or(0))
    }
    async fn play(&self, m: Move) -> Vec<Point> {
        match m {
            Move::Go { to } => vec![to],
            Move::Pass => Vec::new(),
        }
    }
    async fn reset(&self) {}
    async fn put(&self, _at: Point) -> bool {
        true
    }
    async fn moved(&self, _m: Move) {}
}

struct PlainImpl;

impl Plain for PlainImpl {
    async fn bump(&self, o: Opaque) -> Opaque {
        Opaque { n: o.n + 1 }
    }
}

fn api() -> Api {
    Api::new("game", "2.0.0").service::<GameContract>()
}

fn method<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["methods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no method {name} in {doc:#}"))
}

#[test]
fn openrpc_document_has_wire_names_params_results_events_and_docs() {
    let doc = api().openrpc();
    assert_eq!(doc["openrpc"], "1.3.2");
    assert_eq!(doc["info"], json!({ "title": "game", "version": "2.0.0" }));
    let names: Vec<&str> = doc["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "game.place",
            "game.play",
            "game.reset_all",
            "game.put",
            "game.moved"
        ]
    );

    let place = method(&doc, "game.place");
    assert_eq!(place["summary"], "Places a piece.");
    assert_eq!(place["description"], "Places a piece.\n\nSecond paragraph.");
    assert_eq!(place["paramStructure"], "either");
    assert_eq!(place["params"][0]["name"], "at");
    assert_eq!(place["params"][0]["required"], true);
    assert_eq!(
        place["params"][0]["schema"]["$ref"],
        "#/components/schemas/Point"
    );
    assert_eq!(place["params"][1]["name"], "note");
    assert_eq!(place["params"][1]["required"], false);
    assert_eq!(place["result"]["schema"]["type"], "integer");
    assert_eq!(place["x-echorpc-fallible"], true);
    let codes: Vec<i64> = place["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_i64().unwrap())
        .collect();
    assert!(
        codes.contains(&-32602) && codes.contains(&-32603),
        "{codes:?}"
    );

    let play = method(&doc, "game.play");
    assert_eq!(play["x-echorpc-params"], "whole");
    assert_eq!(play["params"].as_array().unwrap().len(), 1);
    assert_eq!(play["result"]["schema"]["type"], "array");

    // `()` answers null; an event has no result (a notification).
    let reset = method(&doc, "game.reset_all");
    assert_eq!(reset["result"]["schema"], json!({ "type": "null" }));
    assert_eq!(reset["params"], json!([]));
    let moved = method(&doc, "game.moved");
    assert!(moved.get("result").is_none(), "{moved:#}");
    assert_eq!(moved["x-echorpc-event"], true);
    assert_eq!(method(&doc, "game.put")["deprecated"], true);

    // Shared types once, under components, with serde's names and tags.
    let point = &doc["components"]["schemas"]["Point"];
    assert_eq!(point["description"], "A point on the board.");
    assert_eq!(point["properties"]["x"]["type"], "integer");
    assert_eq!(point["required"], json!(["x", "y"]));
    let moves = serde_json::to_string(&doc["components"]["schemas"]["Move"]).unwrap();
    assert!(moves.contains(r#""const":"go""#), "{moves}");
    assert!(moves.contains(r#""const":"pass""#), "{moves}");
}

#[test]
fn typescript_module_has_client_register_and_serde_names() {
    let ts = api().typescript();
    for expected in [
        "export class GameClient {",
        "export function registerGame(peer: EchoRegistrar, impl: Game): void {",
        "  place(at: Point, note?: string | null): Promise<number> {",
        "    return Promise.resolve(this.peer.request(\"game.place\", { at, note }));",
        "  play(m: Move): Promise<Point[]> {",
        "    return Promise.resolve(this.peer.request(\"game.play\", m));",
        "  reset(): Promise<null> {",
        "    return Promise.resolve(this.peer.request(\"game.reset_all\"));",
        "    return Promise.resolve(this.peer.publish(\"game.moved\", m)).then(() => undefined);",
        "  peer.subscribe(\"game.moved\", async (params: any) => {",
        "export interface Point {",
        "  label?: string | null;",
        "kind: \"go\";",
        "@deprecated",
        "2^53",
    ] {
        assert!(ts.contains(expected), "missing {expected:?} in:\n{ts}");
    }
    assert!(!ts.contains("import "), "the module imports nothing:\n{ts}");
}

#[test]
fn services_without_schema_types_compile_and_run_with_the_feature_on() {
    // `PlainContract` exists, but its `JsonSchema` bounds are only checked where it is used,
    // so this crate builds although `Opaque` has no schema.
    let _unused = PlainContract;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let server = Server::builder().build();
        server.mount(PlainServer::new(PlainImpl)).unwrap();
        let client = server
            .connect_in_memory(Client::builder("ws://in-memory"))
            .await
            .unwrap();
        let out = PlainClient::new(&client)
            .bump(Opaque { n: 1 })
            .await
            .unwrap();
        assert_eq!(out, Opaque { n: 2 });
    });
}

#[tokio::test]
async fn rpc_discover_answers_the_document_over_a_socket_only_when_mounted() {
    let with = Server::builder().host("127.0.0.1").port(0).build();
    with.mount(GameServer::new(Board)).unwrap();
    with.mount(api().discover()).unwrap();
    let addr = with.start().await.unwrap();
    let client = Client::builder(format!("ws://{addr}")).build();
    tokio::time::timeout(Duration::from_secs(10), client.connect())
        .await
        .unwrap()
        .unwrap();
    let doc = client.request(DISCOVER, Value::Null).await.unwrap();
    assert_eq!(doc, api().openrpc());
    // The typed service still answers next to it.
    assert_eq!(
        client
            .request("game.place", json!({ "at": { "x": 4, "y": 1 } }))
            .await
            .unwrap(),
        json!(4)
    );
    client.disconnect().await;
    with.stop().await;

    let without = Server::builder().host("127.0.0.1").port(0).build();
    without.mount(GameServer::new(Board)).unwrap();
    let addr = without.start().await.unwrap();
    let client = Client::builder(format!("ws://{addr}")).build();
    client.connect().await.unwrap();
    let err = client.request(DISCOVER, Value::Null).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::METHOD_NOT_FOUND));
    client.disconnect().await;
    without.stop().await;
}
