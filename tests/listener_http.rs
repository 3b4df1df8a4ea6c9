//! The standalone listener's HTTP side (hyper's HTTP/1 server): every bad upgrade gets its
//! status and a line saying why, never a silently dropped socket; a good one gets a correct
//! `101`; a request cut short is closed without an answer; and the server keeps serving.

use std::net::SocketAddr;

use echorpc_tests::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn served() -> (echorpc::Server, SocketAddr) {
    let server = local_server().build();
    register_add(&server);
    start(server).await
}

/// Sends `request` on a fresh socket and reads the whole answer (the server closes).
async fn answer_to(addr: SocketAddr, request: &[u8]) -> String {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(request).await.expect("write the request");
    let mut answer = Vec::new();
    within("the answer and the close", tcp.read_to_end(&mut answer))
        .await
        .expect("read the answer");
    String::from_utf8(answer).expect("an ASCII answer")
}

/// The body of an HTTP answer.
fn body(answer: &str) -> &str {
    answer.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}

const UPGRADE: &str = "Upgrade: websocket\r\nConnection: Upgrade\r\n";

#[tokio::test]
async fn each_bad_upgrade_gets_its_status_and_a_line_saying_why() {
    let (server, addr) = served().await;
    let key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    let cases = [
        (
            "GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(),
            426,
            "WebSocket only",
        ),
        (
            format!(
                "POST / HTTP/1.1\r\nHost: x\r\n{UPGRADE}Sec-WebSocket-Version: 13\r\n{key}\r\n"
            ),
            405,
            "a WebSocket upgrade is a GET",
        ),
        (
            format!("GET / HTTP/1.1\r\nHost: x\r\n{UPGRADE}Sec-WebSocket-Version: 8\r\n{key}\r\n"),
            426,
            "Sec-WebSocket-Version must be 13",
        ),
        (
            format!("GET / HTTP/1.1\r\nHost: x\r\n{UPGRADE}Sec-WebSocket-Version: 13\r\n\r\n"),
            400,
            "no Sec-WebSocket-Key",
        ),
        (
            format!("GET / HTTP/1.1\r\nHost: x\r\n{UPGRADE}Sec-WebSocket-Version: 13\r\n{key}\r\n")
                .replace("HTTP/1.1", "HTTP/1.0"),
            400,
            "needs HTTP/1.1",
        ),
    ];
    for (request, status, why) in &cases {
        let answer = answer_to(addr, request.as_bytes()).await;
        // hyper answers an HTTP/1.0 request in HTTP/1.0.
        let version = &request[request.find("HTTP/").expect("a version")..][..8];
        assert!(
            answer.starts_with(&format!("{version} {status} ")),
            "{request:?} → {answer:?}"
        );
        let lower = answer.to_ascii_lowercase();
        assert!(lower.contains("\r\nconnection: close\r\n"), "{answer:?}");
        assert!(
            lower.contains("\r\ncontent-type: text/plain; charset=utf-8\r\n"),
            "{answer:?}"
        );
        assert!(body(&answer).contains(why), "{request:?} → {answer:?}");
        assert!(body(&answer).ends_with('\n'), "{answer:?}");
        if *status == 426 {
            assert!(
                lower.contains("\r\nsec-websocket-version: 13\r\n"),
                "{answer:?}"
            );
        }
    }
    let rejected = server.stats().upgrades_rejected;
    assert_eq!(rejected.get(&426), Some(&2), "{rejected:?}");
    assert_eq!(rejected.get(&405), Some(&1), "{rejected:?}");
    assert_eq!(rejected.get(&400), Some(&2), "{rejected:?}");
    still_serves(addr).await;
}

#[tokio::test]
async fn requests_that_are_not_http_or_too_large_are_answered_not_dropped() {
    let (server, addr) = served().await;
    let many_headers: String = (0..100).map(|i| format!("X-Header-{i}: {i}\r\n")).collect();
    let huge_header = format!("X-Big: {}\r\n", "a".repeat(20 * 1024));
    let cases = [
        ("not http at all\r\n\r\n".to_owned(), 400),
        ("GET / HTTP/1.1\r\nBad Header\r\n\r\n".to_owned(), 400),
        (
            format!("GET / HTTP/1.1\r\nHost: x\r\n{many_headers}\r\n"),
            431,
        ),
        (
            format!("GET / HTTP/1.1\r\nHost: x\r\n{huge_header}\r\n"),
            431,
        ),
    ];
    for (request, status) in &cases {
        let answer = answer_to(addr, request.as_bytes()).await;
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status} ")),
            "{:.60?} → {answer:?}",
            request
        );
    }
    let rejected = server.stats().upgrades_rejected;
    assert_eq!(rejected.get(&400), Some(&2), "{rejected:?}");
    assert_eq!(rejected.get(&431), Some(&2), "{rejected:?}");
    still_serves(addr).await;
}

#[tokio::test]
async fn a_good_upgrade_gets_101_with_the_accept_key_of_rfc_6455() {
    let (_server, addr) = served().await;
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "GET /?role=web HTTP/1.1\r\nHost: x\r\n{UPGRADE}Sec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.expect("write");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        within("the 101", tcp.read_exact(&mut byte))
            .await
            .expect("read the 101");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).expect("ASCII").to_ascii_lowercase();
    assert!(
        head.starts_with("http/1.1 101 switching protocols\r\n"),
        "{head}"
    );
    // The example of RFC 6455, section 1.3.
    assert!(
        head.contains("\r\nsec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo=\r\n"),
        "{head}"
    );
    assert!(head.contains("\r\nupgrade: websocket\r\n"), "{head}");
    assert!(!head.contains("content-length"), "{head}");
}

#[tokio::test]
async fn a_request_cut_short_is_closed_without_an_answer_and_the_slot_is_freed() {
    let server = local_server()
        .limits(echorpc::Limits::default().with_max_connections(1))
        .build();
    register_add(&server);
    let (server, addr) = start(server).await;
    for _ in 0..3 {
        let mut tcp = TcpStream::connect(addr).await.expect("connect");
        tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nUpgr")
            .await
            .expect("write");
        tcp.shutdown().await.expect("half-close");
        let mut answer = Vec::new();
        within("the close", tcp.read_to_end(&mut answer))
            .await
            .expect("read to the close");
        assert!(answer.is_empty(), "{:?}", String::from_utf8_lossy(&answer));
    }
    // Nothing was refused, and the one slot is free again for a real client.
    assert!(server.stats().upgrades_rejected.is_empty());
    still_serves(addr).await;
}
