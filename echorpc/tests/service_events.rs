//! Typed events over real sockets: published by a typed stub from either side, received by the
//! implementing side's typed handlers in order, and broadcast typed by the server.

mod service_support;

use serde_json::{Value, json};
use service_support::*;
use tokio::sync::mpsc;

async fn recv<T>(what: &str, rx: &mut mpsc::UnboundedReceiver<T>) -> T {
    within(what, rx.recv()).await.expect("channel open")
}

#[tokio::test]
async fn client_publishes_typed_events_that_the_typed_server_receives_in_order() {
    let (server, addr, mut seen) = calc_server(local_server()).await;
    let client = client_for(addr).client_id("alice").build();
    connect(&client).await;
    let calc = CalcClient::new(&client);

    for i in 0..50 {
        within(
            "chat",
            calc.chat(Chat {
                text: format!("m{i}"),
            }),
        )
        .await
        .unwrap();
        if i % 10 == 0 {
            within("moved", calc.moved(i, -i)).await.unwrap();
        }
    }
    for i in 0..50 {
        assert_eq!(
            recv("chat", &mut seen).await,
            Seen::Chat {
                from: "alice".into(),
                text: format!("m{i}")
            }
        );
        if i % 10 == 0 {
            assert_eq!(recv("moved", &mut seen).await, Seen::Moved(i, -i));
        }
    }

    within("disconnect", client.disconnect()).await;
    within("stop", server.stop()).await;
}

#[tokio::test]
async fn event_wire_format_is_the_data_itself_or_named_fields() {
    let (server, addr, mut seen) = calc_server(local_server()).await;
    let client = client_for(addr).client_id("raw").build();
    connect(&client).await;

    // Untyped publishes in the wire format the TypeScript and Python packages use.
    within("chat", client.publish("chat", json!({ "text": "hello" })))
        .await
        .unwrap();
    within("moved", client.publish("moved", json!({ "x": 1, "y": 2 })))
        .await
        .unwrap();
    within("moved", client.publish("moved", json!([3, 4])))
        .await
        .unwrap();
    // Data that does not fit is skipped, and later events still arrive.
    within("bad", client.publish("moved", json!({ "x": "no" })))
        .await
        .unwrap();
    within("chat", client.publish("chat", json!({ "text": "after" })))
        .await
        .unwrap();
    assert_eq!(
        recv("chat", &mut seen).await,
        Seen::Chat {
            from: "raw".into(),
            text: "hello".into()
        }
    );
    assert_eq!(recv("moved", &mut seen).await, Seen::Moved(1, 2));
    assert_eq!(recv("moved", &mut seen).await, Seen::Moved(3, 4));
    assert_eq!(
        recv("chat", &mut seen).await,
        Seen::Chat {
            from: "raw".into(),
            text: "after".into()
        }
    );

    // And the typed stub's events arrive at an untyped subscriber as that same JSON.
    let (tx, mut raw) = mpsc::unbounded_channel();
    client
        .subscribe("notice", move |data: Value, _conn| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(data);
            }
        })
        .unwrap();
    let conn = server.connections().pop().expect("one connection");
    within(
        "notice",
        CallbacksClient::new(&conn).notice(Chat {
            text: "typed".into(),
        }),
    )
    .await
    .unwrap();
    assert_eq!(
        recv("raw notice", &mut raw).await,
        json!({ "text": "typed" })
    );

    within("disconnect", client.disconnect()).await;
    within("stop", server.stop()).await;
}

#[tokio::test]
async fn server_publishes_typed_events_to_one_client_in_order() {
    let (server, addr, _seen) = calc_server(local_server()).await;
    let (client, mut notices) = callbacks_client(client_for(addr)).await;
    let conn = server.connections().pop().expect("one connection");

    let callbacks = CallbacksClient::new(conn);
    for i in 0..30 {
        within(
            "notice",
            callbacks.notice(Chat {
                text: format!("n{i}"),
            }),
        )
        .await
        .unwrap();
    }
    for i in 0..30 {
        assert_eq!(recv("notice", &mut notices).await, format!("n{i}"));
    }

    within("disconnect", client.disconnect()).await;
    within("stop", server.stop()).await;
}

#[tokio::test]
async fn typed_broadcast_to_all_to_a_role_and_to_all_but_one() {
    let (server, addr, mut seen) = calc_server(local_server()).await;
    let (web, mut web_rx) = callbacks_client(client_for(addr).role("web").client_id("w")).await;
    let (ops1, mut ops1_rx) = callbacks_client(client_for(addr).role("ops").client_id("o1")).await;
    let (ops2, mut ops2_rx) = callbacks_client(client_for(addr).role("ops").client_id("o2")).await;
    let events = CallbacksEvents::new(&server);

    assert_eq!(events.notice(&Chat { text: "all".into() }).unwrap(), 3);
    for rx in [&mut web_rx, &mut ops1_rx, &mut ops2_rx] {
        assert_eq!(recv("all", rx).await, "all");
    }

    assert_eq!(
        events
            .notice_to_role(
                "ops",
                &Chat {
                    text: "ops only".into()
                }
            )
            .unwrap(),
        2
    );
    assert_eq!(
        events
            .notice_to_role("nobody", &Chat { text: "-".into() })
            .unwrap(),
        0
    );
    let web_conn = server
        .connections()
        .into_iter()
        .find(|c| c.meta().client_id() == "w")
        .unwrap();
    assert_eq!(
        events
            .notice_except(
                &web_conn,
                &Chat {
                    text: "not web".into()
                }
            )
            .unwrap(),
        2
    );
    for rx in [&mut ops1_rx, &mut ops2_rx] {
        assert_eq!(recv("ops", rx).await, "ops only");
        assert_eq!(recv("except", rx).await, "not web");
    }

    // The server's typed `chat` handler relays to everyone but the sender (`notice_except`).
    within(
        "chat",
        CalcClient::new(&web).chat(Chat {
            text: "hi from w".into(),
        }),
    )
    .await
    .unwrap();
    assert_eq!(
        recv("chat seen", &mut seen).await,
        Seen::Chat {
            from: "w".into(),
            text: "hi from w".into()
        }
    );
    for rx in [&mut ops1_rx, &mut ops2_rx] {
        assert_eq!(recv("relay", rx).await, "hi from w");
    }
    // The web client got none of the targeted events: its next one is a fresh broadcast.
    assert_eq!(
        events
            .notice(&Chat {
                text: "last".into()
            })
            .unwrap(),
        3
    );
    assert_eq!(recv("last", &mut web_rx).await, "last");

    for client in [&web, &ops1, &ops2] {
        within("disconnect", client.disconnect()).await;
    }
    within("stop", server.stop()).await;
}
