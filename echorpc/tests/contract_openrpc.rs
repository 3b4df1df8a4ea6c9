//! The contract of `#[echorpc::service]` traits (feature `schema`): the OpenRPC document, the
//! TypeScript module, `rpc.discover` over a real socket, and services whose types do not derive
//! `JsonSchema` still compiling while the feature is on.
//!
//! The `Game` service has every shape the TypeScript mapping treats specially (a trailing and a
//! middle `Option`, enums tagged each way serde tags them, unit variants, whole-struct params,
//! `()`). `tests/contract/run.sh` has `game_contract_is_deterministic_and_exported` write its
//! OpenRPC document and TypeScript module (env `ECHORPC_CONTRACT_OUT=DIR`), then validates the
//! document against the OpenRPC meta-schema and compiles the module under `tsc --strict` with a
//! sample using every shape and a sample that must fail.

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

/// A move, internally tagged: `{ "kind": "go", "to": ... }`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Move {
    /// Go somewhere.
    Go {
        /// Where to.
        to: Point,
    },
    /// Drop a piece on a point: the point's fields next to the tag.
    Drop(Point),
    /// Stay put.
    Pass,
}

/// A colour: unit variants only, so a string on the wire.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum Color {
    /// Moves first.
    Black,
    /// Moves second.
    White,
}

/// A piece, externally tagged (serde's default): a unit variant is its name, the others
/// `{ "name": content }`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Piece {
    /// A plain stone.
    Stone,
    /// A stone of one colour (a newtype variant).
    Colored(Color),
    /// A stack of stones (a tuple variant).
    Stack(u8, Color),
    /// A king (a struct variant).
    King {
        /// Whose.
        color: Color,
        /// Crowned already.
        crowned: bool,
    },
}

/// How a game ended, adjacently tagged: `{ "type": "win", "data": "black" }`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum Outcome {
    /// One colour won.
    Win(Color),
    /// Nobody won.
    Draw,
    /// Counted.
    Score {
        /// Black's points.
        black: u32,
        /// White's points.
        white: u32,
    },
}

/// The rules of a game, sent as the whole params of `configure`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct Rules {
    /// Lines on each side.
    pub size: u8,
    /// Points given to white, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub komi: Option<f64>,
    /// Who moves first.
    pub first: Color,
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
    /// Marks a point: `label` is a middle `Option` (required, may be null), `piece` a trailing
    /// one (may be left out).
    async fn mark(&self, label: Option<String>, at: Point, piece: Option<Piece>) -> Piece;
    /// Sets the rules; the whole params are the rules.
    #[echorpc(params = "whole")]
    async fn configure(&self, rules: Rules) -> Rules;
    /// Ends the game.
    async fn finish(&self, outcome: Outcome) -> Option<Color>;
    /// The game ended.
    #[echorpc(event)]
    async fn finished(&self, outcome: Outcome, pieces: Vec<Piece>);
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
            Move::Go { to } | Move::Drop(to) => vec![to],
            Move::Pass => Vec::new(),
        }
    }
    async fn reset(&self) {}
    async fn put(&self, _at: Point) -> bool {
        true
    }
    async fn moved(&self, _m: Move) {}
    async fn mark(&self, _label: Option<String>, _at: Point, piece: Option<Piece>) -> Piece {
        piece.unwrap_or(Piece::Stone)
    }
    async fn configure(&self, rules: Rules) -> Rules {
        rules
    }
    async fn finish(&self, outcome: Outcome) -> Option<Color> {
        match outcome {
            Outcome::Win(color) => Some(color),
            Outcome::Draw | Outcome::Score { .. } => None,
        }
    }
    async fn finished(&self, _outcome: Outcome, _pieces: Vec<Piece>) {}
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
            "game.moved",
            "game.mark",
            "game.configure",
            "game.finish",
            "game.finished"
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
        "export function registerGame<$Peer extends EchoRegistrar>(peer: $Peer, impl: Game<EchoContext<$Peer>>): void {",
        // What the peer passes its handlers after the params reaches the implementation.
        "  mark(label: string | null, at: Point, piece?: Piece | null, ...context: $Context): Awaitable<Piece>;",
        "  peer.register(\"game.reset_all\", async (_params: any, ...context: any[]) => {",
        "    return impl.place(at, note, ...(context as EchoContext<$Peer>));",
        "  place(at: Point, note?: string | null): Promise<number> {",
        "    return Promise.resolve(this.peer.request(\"game.place\", { at, note }));",
        // Only a trailing `Option` may be left out; one in the middle is required `| null`.
        "  mark(label: string | null, at: Point, piece?: Piece | null): Promise<Piece> {",
        "  play(m: Move): Promise<Point[]> {",
        "    return Promise.resolve(this.peer.request(\"game.play\", m));",
        "  reset(): Promise<null> {",
        "    return Promise.resolve(this.peer.request(\"game.reset_all\"));",
        "    return Promise.resolve(this.peer.publish(\"game.moved\", m)).then(() => undefined);",
        "  peer.subscribe(\"game.moved\", async (params: any, ...context: any[]) => {",
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

/// Names a directory where `game_contract_is_deterministic_and_exported` writes `openrpc.json`
/// and `services.ts`, for the OpenRPC and `tsc` checks of `tests/contract/run.sh`.
const EXPORT_DIR: &str = "ECHORPC_CONTRACT_OUT";

#[test]
fn game_contract_is_deterministic_and_exported() {
    let openrpc = serde_json::to_string_pretty(&api().openrpc()).unwrap() + "\n";
    let ts = api().typescript();
    // Made again from scratch (a new schema generator, new maps): the same bytes, so the files
    // the checks compile do not depend on the run.
    assert_eq!(
        serde_json::to_string_pretty(&api().openrpc()).unwrap() + "\n",
        openrpc
    );
    assert_eq!(api().typescript(), ts);
    if let Some(dir) = std::env::var_os(EXPORT_DIR) {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("openrpc.json"), openrpc).unwrap();
        std::fs::write(dir.join("services.ts"), ts).unwrap();
    }
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
