//! The calling connection as a typed method's context: its metadata, and a handle to call the
//! client back through its typed `Callbacks`.

mod service_support;

use echorpc::{ErrorCode, Server};
use serde_json::{Map, Value, json};
use service_support::*;

#[tokio::test]
async fn context_gives_role_client_id_and_auth_metadata() {
    let builder = local_server().auth(|req: &echorpc::AuthRequest| {
        (req.token == "gold-token").then(|| {
            let mut meta = Map::new();
            meta.insert("tier".into(), Value::from("gold"));
            meta
        })
    });
    let (server, addr, _seen) = calc_server(builder).await;
    let client = client_for(addr)
        .token("gold-token")
        .role("ops")
        .client_id("c-7")
        .build();
    connect(&client).await;

    let who = within("whoami", CalcClient::new(&client).whoami())
        .await
        .unwrap();
    assert_eq!(
        who,
        Who {
            role: "ops".into(),
            client_id: "c-7".into(),
            tier: Some("gold".into())
        }
    );
    // The context argument is not a wire param: the method takes no params.
    assert_eq!(
        within("raw whoami", client.request("whoami", Value::Null))
            .await
            .unwrap(),
        json!({ "role": "ops", "client_id": "c-7", "tier": "gold" })
    );

    within("disconnect", client.disconnect()).await;
    within("stop", server.stop()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typed_server_method_calls_the_calling_client_back_typed() {
    let (server, addr, _seen) = calc_server(local_server()).await;
    let (client, _notices) = callbacks_client(client_for(addr)).await;

    // Server method → `CallbacksClient::new(conn).double(21)` on this client → 42.
    assert_eq!(
        within("ask_double", CalcClient::new(&client).ask_double(21))
            .await
            .unwrap(),
        42
    );

    // The server also calls it directly through its connection handle.
    let conn = server.connections().pop().expect("one connection");
    assert_eq!(
        within("double", CallbacksClient::new(&conn).double(-4))
            .await
            .unwrap(),
        -8
    );

    within("disconnect", client.disconnect()).await;
    within("stop", server.stop()).await;
}

#[tokio::test]
async fn a_callback_to_a_client_without_callbacks_fails_typed() {
    let (server, addr, _seen) = calc_server(local_server()).await;
    let client = client_for(addr).build();
    connect(&client).await;

    let err = within("ask_double", CalcClient::new(&client).ask_double(1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::METHOD_NOT_FOUND), "{err}");

    within("disconnect", client.disconnect()).await;
    within("stop", server.stop()).await;
}

#[tokio::test]
async fn stubs_over_a_closed_peer_fail_not_connected() {
    let server: Server = local_server().build();
    let addr = start(&server).await;
    let client = client_for(addr).build();
    let err = CalcClient::new(&client).add(1, 2).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NOT_CONNECTED));
    let err = CalcClient::new(&client)
        .chat(Chat { text: "x".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NOT_CONNECTED));
    within("stop", server.stop()).await;
}
