//! Target `http_upgrade`: arbitrary bytes as the HTTP upgrade request, read and answered as
//! the listener does (hyper's HTTP/1 server and the upgrade checks), over an in-process byte
//! pipe.
//!
//! Invariants: no panic, no hang; the answer is one HTTP response (101 with a
//! `Sec-WebSocket-Accept` for a well-formed upgrade, a 4xx with `Connection: close`
//! otherwise), or nothing at all when the request was cut short; an accepted request really
//! is a complete `GET` request.

use echorpc::__fuzz::{UpgradeOutcome, upgrade_exchange};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{block_on, or_hang};

/// Bytes of one input used, at most (past the server's 16 KiB request limit).
pub const MAX_INPUT: usize = 64 * 1024;
/// Statuses a refused upgrade may get without an auth handler or a connection limit.
pub const REFUSALS: [u16; 5] = [400, 405, 414, 426, 431];

/// Runs one input; panics when an invariant breaks. The first byte sets the size of the
/// pieces the request is written in (0: all at once), so partial reads are exercised too.
pub fn run(data: &[u8]) {
    let Some((&piece, request)) = data.split_first() else {
        return;
    };
    let request = request[..request.len().min(MAX_INPUT)].to_vec();
    block_on(exchange(usize::from(piece), request));
}

async fn exchange(piece: usize, request: Vec<u8>) {
    let (mut client, mut server) = tokio::io::duplex(2 * MAX_INPUT);
    let serve = tokio::spawn(async move { upgrade_exchange(&mut server).await });
    let piece = if piece == 0 {
        request.len().max(1)
    } else {
        piece
    };
    for chunk in request.chunks(piece) {
        if client.write_all(chunk).await.is_err() {
            break;
        }
        tokio::task::yield_now().await;
    }
    // The client is done sending; a request still partial is then refused.
    let _ = client.shutdown().await;
    let outcome = or_hang("the upgrade", serve)
        .await
        .expect("the upgrade task");
    let mut answer = Vec::new();
    or_hang("the answer", client.read_to_end(&mut answer))
        .await
        .expect("reading the answer");
    let answer = String::from_utf8(answer).expect("the answer is ASCII");
    // Header names are case-insensitive.
    let lower = answer.to_ascii_lowercase();
    match outcome {
        UpgradeOutcome::Accepted { leftover, .. } => {
            assert!(
                answer.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
                "{answer:?}"
            );
            assert!(lower.contains("\r\nsec-websocket-accept: "), "{answer:?}");
            assert!(answer.ends_with("\r\n\r\n"), "{answer:?}");
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut parsed = httparse::Request::new(&mut headers);
            let status = parsed.parse(&request);
            assert!(
                matches!(status, Ok(httparse::Status::Complete(n)) if n + leftover <= request.len()),
                "accepted a request that is not complete: {status:?}, {leftover} bytes left over"
            );
            assert_eq!(parsed.method, Some("GET"));
        }
        UpgradeOutcome::Refused(status) => {
            assert!(REFUSALS.contains(&status), "refused with {status}");
            // hyper answers an HTTP/1.0 request in HTTP/1.0.
            assert!(
                answer.starts_with(&format!("HTTP/1.1 {status} "))
                    || answer.starts_with(&format!("HTTP/1.0 {status} ")),
                "{answer:?}"
            );
            // `close` among the Connection tokens (hyper adds `keep-alive` to the list when an
            // HTTP/1.0 request asked for it; the socket is closed all the same, as
            // `read_to_end` above shows).
            let closes = lower
                .split("\r\n")
                .filter_map(|line| line.strip_prefix("connection:"))
                .flat_map(|value| value.split(','))
                .any(|token| token.trim() == "close");
            assert!(closes, "{answer:?}");
        }
        UpgradeOutcome::Unanswered => assert!(answer.is_empty(), "{answer:?}"),
    }
}
