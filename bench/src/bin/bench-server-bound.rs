//! The lower bound: a minimal hand-written JSON-RPC server on tokio-tungstenite.
//!
//! One task per connection reads a frame, answers it (single request or batch), keeps reading
//! while frames are already buffered, feeding each answer, and flushes once per burst.
//! `broadcast {"seq": s}` serialises one `tick` notification and hands it, through a
//! `tokio::sync::broadcast` channel, to every connection's task, which feeds and flushes it; a
//! lagging connection skips ticks instead of holding up the others. It answers the echorpc
//! heartbeat `ping` with `pong`. Read buffer 4 KiB (tungstenite's default is 128 KiB), Nagle
//! off; everything else tungstenite's default. Listens on 127.0.0.1:0 and prints
//! `listening 127.0.0.1:PORT`.

use echorpc_bench::api::{self, AddParams, TICK, Tick};
use futures::{FutureExt as _, SinkExt as _, StreamExt as _};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast::{self, Sender, error::RecvError};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// Bytes tungstenite reads into at a time, allocated up front per connection.
const READ_BUFFER: usize = 4 * 1024;

/// Most frames answered between two flushes, so a busy peer cannot starve its own writes.
const MAX_BURST: usize = 256;

/// Ticks a slow connection may lag behind before it skips some.
const TICK_BACKLOG: usize = 64;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    api::announce(listener.local_addr()?);
    let (ticks, _) = broadcast::channel::<Utf8Bytes>(TICK_BACKLOG);
    loop {
        match listener.accept().await {
            Ok((tcp, _)) => {
                tokio::spawn(serve(tcp, ticks.clone()));
            }
            // Out of descriptors or a reset during accept: back off briefly, keep serving.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// One connection, until it closes.
async fn serve(tcp: TcpStream, ticks: Sender<Utf8Bytes>) {
    let _ = tcp.set_nodelay(true);
    let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER);
    let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(tcp, Some(config)).await else {
        return;
    };
    let mut rx = ticks.subscribe();
    loop {
        tokio::select! {
            // Cancel safe: no frame is lost if the other branch wins.
            msg = ws.next() => {
                let Some(Ok(first)) = msg else { break };
                let mut msg = Some(first);
                let mut burst = 0;
                while let Some(m) = msg.take() {
                    let reply = match m {
                        Message::Text(text) => handle(&text, &ticks),
                        Message::Close(_) => return,
                        _ => None, // tungstenite answers WebSocket pings itself
                    };
                    if let Some(reply) = reply
                        && ws.feed(Message::text(reply)).await.is_err()
                    {
                        return;
                    }
                    burst += 1;
                    if burst < MAX_BURST {
                        // Only frames already here join the burst; this never waits.
                        msg = match ws.next().now_or_never() {
                            Some(Some(Ok(m))) => Some(m),
                            _ => None,
                        };
                    }
                }
                if ws.flush().await.is_err() {
                    break;
                }
            }
            // Cancel safe: `recv` loses no tick if the other branch wins.
            tick = rx.recv() => match tick {
                Ok(text) => {
                    if ws.feed(Message::Text(text)).await.is_err() || ws.flush().await.is_err() {
                        break;
                    }
                }
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => break,
            },
        }
    }
}

/// A request as received; `id` and `params` kept raw.
#[derive(Deserialize)]
struct Request<'a> {
    #[serde(borrow)]
    jsonrpc: Cow<'a, str>,
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    method: Cow<'a, str>,
    #[serde(borrow, default)]
    params: Option<&'a RawValue>,
}

/// The reply to one text frame, if it needs one.
fn handle(text: &str, ticks: &Sender<Utf8Bytes>) -> Option<String> {
    if !text.trim_start().starts_with('[') {
        return handle_one(text, ticks, true);
    }
    let Ok(items) = serde_json::from_str::<Vec<&RawValue>>(text) else {
        return Some(error("null", -32700, "Parse error"));
    };
    if items.is_empty() {
        return Some(error("null", -32600, "Invalid Request"));
    }
    let mut out = String::with_capacity(items.len() * 48 + 2);
    out.push('[');
    for reply in items
        .iter()
        .filter_map(|item| handle_one(item.get(), ticks, false))
    {
        if out.len() > 1 {
            out.push(',');
        }
        out.push_str(&reply);
    }
    out.push(']');
    (out.len() > 2).then_some(out)
}

/// The reply to one message (top level, or an element of a batch).
fn handle_one(text: &str, ticks: &Sender<Utf8Bytes>, top_level: bool) -> Option<String> {
    let req = match serde_json::from_str::<Request<'_>>(text) {
        Ok(req) if req.jsonrpc == "2.0" => req,
        Ok(req) => return req.id.map(|id| error(id.get(), -32600, "Invalid Request")),
        Err(_) if top_level && serde_json::from_str::<serde::de::IgnoredAny>(text).is_err() => {
            return Some(error("null", -32700, "Parse error"));
        }
        Err(_) => return Some(error("null", -32600, "Invalid Request")),
    };
    let Some(id) = req.id else {
        // Notifications get no answer, except the echorpc heartbeat. (Being minimal, this
        // server also takes `"id": null` for a notification.)
        return (req.method == "ping").then(|| r#"{"jsonrpc":"2.0","method":"pong"}"#.to_string());
    };
    let params = req.params.map_or("null", RawValue::get);
    let result = match req.method.as_ref() {
        "add" => match serde_json::from_str::<AddParams>(params) {
            Ok(p) => match p.a.checked_add(p.b) {
                Some(sum) => format!(r#"{{"sum":{sum}}}"#),
                None => return Some(error(id.get(), -32602, "Invalid params")),
            },
            Err(_) => return Some(error(id.get(), -32602, "Invalid params")),
        },
        "broadcast" => match serde_json::from_str::<Tick>(params) {
            Ok(t) => {
                let note = format!(
                    r#"{{"jsonrpc":"2.0","method":"{TICK}","params":{{"seq":{}}}}}"#,
                    t.seq
                );
                let sent = ticks.send(Utf8Bytes::from(note)).unwrap_or(0);
                format!(r#"{{"sent":{sent}}}"#)
            }
            Err(_) => return Some(error(id.get(), -32602, "Invalid params")),
        },
        _ => return Some(error(id.get(), -32601, "Method not found")),
    };
    Some(format!(
        r#"{{"jsonrpc":"2.0","id":{},"result":{result}}}"#,
        id.get()
    ))
}

/// An error response with raw JSON `id`.
fn error(id: &str, code: i32, message: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":{code},"message":"{message}"}}}}"#)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(text: &str) -> Option<String> {
        let (ticks, _) = broadcast::channel(4);
        handle(text, &ticks)
    }

    #[test]
    fn answers_add_single_and_batched_in_order() {
        let one = r#"{"jsonrpc":"2.0","id":"x","method":"add","params":{"a":1,"b":2}}"#;
        assert_eq!(
            reply(one).unwrap(),
            r#"{"jsonrpc":"2.0","id":"x","result":{"sum":3}}"#
        );
        let batch = r#"[{"jsonrpc":"2.0","id":1,"method":"add","params":{"a":1,"b":1}},
            {"jsonrpc":"2.0","method":"add","params":{"a":0,"b":0}},
            {"jsonrpc":"2.0","id":2,"method":"nope"}]"#;
        let out: serde_json::Value = serde_json::from_str(&reply(batch).unwrap()).unwrap();
        assert_eq!(out[0]["result"]["sum"], 2);
        assert_eq!(out[1]["error"]["code"], -32601);
        assert_eq!(out.as_array().unwrap().len(), 2);
    }

    #[test]
    fn errors_and_silence() {
        let code = |text: &str| -> serde_json::Value {
            serde_json::from_str::<serde_json::Value>(&reply(text).unwrap()).unwrap()["error"]["code"].clone()
        };
        assert_eq!(code("{oops"), -32700);
        assert_eq!(code("[]"), -32600);
        assert_eq!(code("5"), -32600);
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":1,"method":"add","params":{"a":1}}"#),
            -32602
        );
        assert!(reply(r#"{"jsonrpc":"2.0","method":"add","params":{"a":1,"b":2}}"#).is_none());
        assert!(
            reply(r#"{"jsonrpc":"2.0","method":"ping"}"#)
                .unwrap()
                .contains("pong")
        );
    }

    #[test]
    fn broadcast_reaches_subscribers() {
        let (ticks, mut rx) = broadcast::channel(4);
        let out = handle(
            r#"{"jsonrpc":"2.0","id":1,"method":"broadcast","params":{"seq":7}}"#,
            &ticks,
        );
        assert!(out.unwrap().contains(r#""sent":1"#));
        assert!(rx.try_recv().unwrap().as_str().contains(r#""seq":7"#));
    }
}
