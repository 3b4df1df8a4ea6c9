//! Target `params_decode`: arbitrary JSON as the params of the methods of a
//! `#[echorpc::service]` trait, called through a [`Client`] connected in memory, so the
//! generated dispatch decodes them.
//!
//! Invariants: no panic, no hang; every call succeeds or fails with `-32602` and nothing else;
//! and the outcome is the one plain serde gives for the same arguments (a differential
//! check: the generated decoding is serde's derive, objects of named fields or positional
//! arrays, absent or `null` params counting as `{}`).

use std::time::Duration;

use echorpc::{Client, Error, ErrorCode, Server};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::{block_on, or_hang};

/// A nested argument type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inner {
    /// A float.
    pub x: f64,
    /// An enum, externally tagged.
    pub tag: Tag,
}

/// An enum argument with unit, newtype, tuple and struct variants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Tag {
    /// Unit.
    Plain,
    /// Newtype.
    Count(u32),
    /// Tuple.
    Pair(i8, String),
    /// Struct.
    Named {
        /// A field.
        on: bool,
    },
}

/// The service whose generated dispatch is fuzzed.
#[echorpc::service]
pub trait Shapes {
    /// Named integers and an optional string.
    async fn point(&self, x: i64, y: i64, label: Option<String>) -> Value;
    /// A nested struct, a list and a bool.
    async fn nested(&self, inner: Inner, tags: Vec<String>, flag: bool) -> Value;
    /// Small integer types, a char, a float.
    async fn small(&self, n: u8, c: char, f: f64, m: i16) -> Value;
    /// An enum and deep options.
    async fn tagged(&self, tag: Tag, opt: Option<Vec<Option<i32>>>) -> Value;
    /// The whole params value as one struct.
    #[echorpc(params = "whole")]
    async fn whole(&self, all: Inner) -> Value;
    /// No arguments.
    async fn nothing(&self) -> Value;
}

/// Echoes every argument back, as an array in declaration order.
#[derive(Debug)]
pub struct Echo;

impl Shapes for Echo {
    async fn point(&self, x: i64, y: i64, label: Option<String>) -> Value {
        json!([x, y, label])
    }
    async fn nested(&self, inner: Inner, tags: Vec<String>, flag: bool) -> Value {
        json!([inner, tags, flag])
    }
    async fn small(&self, n: u8, c: char, f: f64, m: i16) -> Value {
        json!([n, c, f, m])
    }
    async fn tagged(&self, tag: Tag, opt: Option<Vec<Option<i32>>>) -> Value {
        json!([tag, opt])
    }
    async fn whole(&self, all: Inner) -> Value {
        json!([all])
    }
    async fn nothing(&self) -> Value {
        json!([])
    }
}

// The same argument lists, decoded by plain serde: the oracle.
#[derive(Deserialize)]
struct Point {
    x: i64,
    y: i64,
    label: Option<String>,
}
#[derive(Deserialize)]
struct Nested {
    inner: Inner,
    tags: Vec<String>,
    flag: bool,
}
#[derive(Deserialize)]
struct Small {
    n: u8,
    c: char,
    f: f64,
    m: i16,
}
#[derive(Deserialize)]
struct Tagged {
    tag: Tag,
    opt: Option<Vec<Option<i32>>>,
}

/// Methods of [`Shapes`], chosen by the first input byte.
pub const METHODS: [&str; 6] = ["point", "nested", "small", "tagged", "whole", "nothing"];

fn named<A: DeserializeOwned>(params: Option<&str>) -> Option<A> {
    match params {
        None | Some("null") => serde_json::from_str("{}").ok(),
        Some(text) => serde_json::from_str(text).ok(),
    }
}

/// What plain serde makes of `params` for `method`: the echoed arguments, or `None` for
/// invalid params.
fn expected(method: &str, params: Option<&str>) -> Option<Value> {
    match method {
        "point" => named::<Point>(params).map(|a| json!([a.x, a.y, a.label])),
        "nested" => named::<Nested>(params).map(|a| json!([a.inner, a.tags, a.flag])),
        "small" => named::<Small>(params).map(|a| json!([a.n, a.c, a.f, a.m])),
        "tagged" => named::<Tagged>(params).map(|a| json!([a.tag, a.opt])),
        "whole" => serde_json::from_str::<Inner>(params.unwrap_or("null"))
            .ok()
            .map(|a| json!([a])),
        "nothing" => {
            let ok = match params {
                None | Some("null") => true,
                Some(text) if text.starts_with('{') => true,
                Some(text) => text.strip_prefix('[').is_some_and(|rest| {
                    rest.trim_start_matches([' ', '\t', '\n', '\r'])
                        .starts_with(']')
                }),
            };
            ok.then(|| json!([]))
        }
        other => unreachable!("no method {other}"),
    }
}

/// Runs one input; panics when an invariant breaks. The first byte picks the method, the rest
/// is the params text (inputs that are not one JSON value are skipped: the router answers
/// those before dispatch, which `router_frames` covers).
pub fn run(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let Ok(params) = serde_json::from_str::<&RawValue>(text) else {
        return;
    };
    let method = METHODS[usize::from(pick) % METHODS.len()];
    block_on(call(method, params));
}

async fn call(method: &str, params: &RawValue) {
    let server = Server::builder().ping_interval(Duration::ZERO).build();
    server.mount(ShapesServer::new(Echo)).expect("mount");
    let client = server
        .connect_in_memory(Client::builder("memory").ping_interval(Duration::ZERO))
        .await
        .expect("in-memory client");
    let got = or_hang("the call", client.request(method, params)).await;
    // The client leaves `null` params out; the server sees them absent.
    let sent = Some(params.get()).filter(|text| *text != "null");
    match (got, expected(method, sent)) {
        (Ok(value), Some(want)) => {
            // Compare after a round trip through text, as the client's value took one.
            let want: Value = serde_json::from_str(&want.to_string()).expect("json");
            assert_eq!(
                value,
                want,
                "{method}({}) decoded differently",
                params.get()
            );
        }
        (Err(Error::Rpc(obj)), None) => {
            assert_eq!(
                obj.code(),
                ErrorCode::INVALID_PARAMS,
                "{method}({}): {obj:?}",
                params.get()
            );
        }
        (got, want) => panic!(
            "{method}({}): dispatch gave {got:?}, plain serde {want:?}",
            params.get()
        ),
    }
    client.disconnect().await;
    server.stop().await;
}
