//! wss:// end to end over real sockets, with certificates generated at test time: a chain
//! (leaf + intermediate) sent by the server, a private root trusted by the client, IP-address
//! and DNS names verified, and every broken configuration a clear error.

use std::sync::Arc;
use std::time::Duration;

use echorpc::tls::rustls::pki_types::pem::PemObject;
use echorpc::tls::{ClientTls, ServerTls, rustls};
use echorpc::{Client, Error, Server};
use echorpc_tests::certs::{local_pki, pki_for};
use echorpc_tests::{local_server, register_add, within};
use serde_json::json;

async fn tls_server(pki: &echorpc_tests::certs::TestPki) -> (Server, std::net::SocketAddr) {
    let tls = ServerTls::from_pem(pki.chain_pem.as_bytes(), pki.key_pem.as_bytes())
        .expect("server tls from generated PEM");
    let server = local_server()
        .tls(tls)
        .auth(|req| req.token == "secret")
        .build();
    register_add(&server);
    let addr = server.start().await.expect("server starts");
    (server, addr)
}

fn client(url: String, tls: ClientTls) -> Client {
    Client::builder(url)
        .token("secret")
        .tls(tls)
        .no_reconnect()
        .connect_timeout(Duration::from_secs(3))
        .build()
}

async fn connect_error(client: &Client) -> Error {
    within("failed connect", client.connect())
        .await
        .expect_err("connect must fail")
}

#[tokio::test]
async fn wss_call_verifies_the_chain_and_an_ip_address_name() {
    let pki = local_pki();
    let (server, addr) = tls_server(&pki).await;
    let tls = ClientTls::empty()
        .with_root_pem(pki.root_pem.as_bytes())
        .expect("root PEM");
    let client = client(format!("wss://127.0.0.1:{}", addr.port()), tls);
    within("connect", client.connect())
        .await
        .expect("wss connect");
    let sum = within("add", client.request("add", json!({"a": 2, "b": 3}))).await;
    assert_eq!(sum.expect("add over wss"), json!({"sum": 5}));
    client.disconnect().await;
    server.stop().await;
}

#[tokio::test]
async fn wss_by_dns_name_with_root_from_a_file_and_default_roots_kept() {
    let pki = local_pki();
    let (server, addr) = tls_server(&pki).await;
    // The default roots plus the private root, read from a file.
    let tls = ClientTls::new()
        .with_root_pem_file(pki.root_file())
        .expect("root file");
    let client = client(format!("wss://localhost:{}/rpc", addr.port()), tls);
    within("connect", client.connect())
        .await
        .expect("wss connect");
    assert_eq!(
        client
            .request("add", json!({"a": 1, "b": 1}))
            .await
            .expect("add"),
        json!({"sum": 2})
    );
    client.disconnect().await;
    server.stop().await;
}

#[tokio::test]
async fn server_from_pem_files_and_client_from_a_full_rustls_config() {
    let pki = local_pki();
    let tls = ServerTls::from_pem_files(pki.chain_file(), pki.key_file()).expect("PEM files");
    let server = local_server().tls(tls).build();
    register_add(&server);
    let addr = server.start().await.expect("start");

    let mut roots = rustls::RootCertStore::empty();
    let root = rustls::pki_types::CertificateDer::from_pem_slice(pki.root_pem.as_bytes())
        .expect("root PEM");
    roots.add(root).expect("root");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let client = client(
        format!("wss://127.0.0.1:{}", addr.port()),
        ClientTls::from_rustls(Arc::new(config)),
    );
    within("connect", client.connect())
        .await
        .expect("wss connect");
    assert_eq!(
        client
            .request("add", json!({"a": 4, "b": 4}))
            .await
            .expect("add"),
        json!({"sum": 8})
    );
    // A full config takes no extra roots: that is an error, not a silent no-op.
    let err = ClientTls::from_rustls(Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth(),
    ))
    .with_root_pem(pki.root_pem.as_bytes())
    .expect_err("roots cannot be added to a full config");
    assert!(
        err.to_string().contains("full rustls client config"),
        "{err}"
    );
    client.disconnect().await;
    server.stop().await;
}

#[tokio::test]
async fn an_untrusted_certificate_fails_with_a_tls_error_and_no_retry_loop() {
    let pki = local_pki();
    let (server, addr) = tls_server(&pki).await;
    // Mozilla's roots only: the private root is unknown.
    let client = client(format!("wss://127.0.0.1:{}", addr.port()), ClientTls::new());
    let err = connect_error(&client).await;
    let text = err.to_string();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    assert!(text.contains("TLS handshake failed"), "{text}");
    assert!(text.to_lowercase().contains("issuer"), "{text}");
    // The server shrugs it off and still serves a trusting client.
    let good = client_trusting(&pki, addr.port());
    within("connect", good.connect())
        .await
        .expect("trusted connect");
    good.disconnect().await;
    server.stop().await;
}

fn client_trusting(pki: &echorpc_tests::certs::TestPki, port: u16) -> Client {
    let tls = ClientTls::empty()
        .with_root_pem(pki.root_pem.as_bytes())
        .expect("root PEM");
    client(format!("wss://127.0.0.1:{port}"), tls)
}

#[tokio::test]
async fn a_certificate_for_another_address_is_refused() {
    // Valid chain, trusted root, but issued for 127.0.0.2 only.
    let pki = pki_for(&["127.0.0.2"]);
    let (server, addr) = tls_server(&pki).await;
    let client = client_trusting(&pki, addr.port());
    let text = connect_error(&client).await.to_string();
    assert!(text.contains("TLS handshake failed"), "{text}");
    assert!(text.to_lowercase().contains("not valid for name"), "{text}");
    server.stop().await;
}

#[tokio::test]
async fn plain_ws_to_a_tls_server_fails_and_auth_is_still_401_over_tls() {
    let pki = local_pki();
    let (server, addr) = tls_server(&pki).await;
    let plain = Client::builder(format!("ws://127.0.0.1:{}", addr.port()))
        .token("secret")
        .no_reconnect()
        .connect_timeout(Duration::from_secs(3))
        .build();
    assert!(matches!(connect_error(&plain).await, Error::Connect { .. }));

    let tls = ClientTls::empty()
        .with_root_pem(pki.root_pem.as_bytes())
        .expect("root PEM");
    let wrong = Client::builder(format!("wss://127.0.0.1:{}", addr.port()))
        .token("wrong")
        .tls(tls)
        .no_reconnect()
        .build();
    assert!(matches!(connect_error(&wrong).await, Error::AuthRejected));
    server.stop().await;
}

#[test]
fn broken_pem_gives_clear_errors() {
    let pki = local_pki();
    let err = ServerTls::from_pem(b"garbage", pki.key_pem.as_bytes()).expect_err("no cert");
    assert!(err.to_string().contains("no certificate"), "{err}");
    let err = ServerTls::from_pem(pki.chain_pem.as_bytes(), b"").expect_err("no key");
    assert!(err.to_string().contains("no private key"), "{err}");
    let missing = pki.dir.join("missing.pem");
    let err = ServerTls::from_pem_files(&missing, pki.key_file()).expect_err("missing file");
    assert!(err.to_string().contains("missing.pem"), "{err}");
    // A key of another certificate.
    let other = local_pki();
    let err = ServerTls::from_pem(pki.chain_pem.as_bytes(), other.key_pem.as_bytes())
        .expect_err("mismatched key");
    assert!(
        err.to_string().contains("do not make a usable certificate"),
        "{err}"
    );
    let err = ClientTls::new()
        .with_root_pem(b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n")
        .expect_err("bad PEM");
    assert!(!err.to_string().is_empty());
}

#[tokio::test]
async fn an_unsupported_scheme_and_a_bad_header_are_connect_errors() {
    let client = Client::builder("http://127.0.0.1:1").no_reconnect().build();
    let text = connect_error(&client).await.to_string();
    assert!(text.contains("ws:// or wss://"), "{text}");
    let client = Client::builder("ws://127.0.0.1:1")
        .header("bad header", "x")
        .no_reconnect()
        .build();
    let text = connect_error(&client).await.to_string();
    assert!(text.contains("invalid upgrade header name"), "{text}");
}

/// A certificate refused by verification ends `connect` at once, like a 401: no retry can fix
/// it, so a client with reconnects on and a 60 s connect timeout still returns within the
/// test's 5 s step, with the verification error. A name mismatch is the same.
#[tokio::test]
async fn a_refused_certificate_ends_connect_at_once_without_retrying() {
    let pki = local_pki();
    let (server, addr) = tls_server(&pki).await;
    // Issued for 127.0.0.2 only, by a root the client trusts.
    let elsewhere = pki_for(&["127.0.0.2"]);
    let (other_server, other_addr) = tls_server(&elsewhere).await;
    let unknown = local_pki();
    let cases = [
        (
            format!("wss://127.0.0.1:{}", addr.port()),
            unknown.root_pem.as_bytes(),
            // Another root of the same name: the chain's signature does not verify.
            "invalid peer certificate",
        ),
        (
            format!("wss://127.0.0.1:{}", other_addr.port()),
            elsewhere.root_pem.as_bytes(),
            "not valid for name",
        ),
    ];
    for (url, root, why) in cases {
        let tls = ClientTls::empty().with_root_pem(root).expect("root PEM");
        let client = Client::builder(url)
            .token("secret")
            .tls(tls)
            .reconnect(echorpc::Backoff::new(
                Duration::from_millis(50),
                Duration::from_millis(100),
            ))
            .connect_timeout(Duration::from_secs(60))
            .build();
        let err = connect_error(&client).await;
        let text = err.to_string();
        assert!(matches!(err, Error::Connect { .. }), "{err:?}");
        assert!(text.contains("TLS handshake failed"), "{text}");
        assert!(text.to_lowercase().contains(why), "{text}");
        assert!(!text.contains("no connection within"), "{text}");
        assert!(!client.is_connected());
    }
    server.stop().await;
    other_server.stop().await;
}
