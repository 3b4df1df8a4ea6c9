//! The cancellation scenarios, each run over the in-memory transport and over a real socket.

use std::time::Duration;

use echorpc::{Error, ErrorCode};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::*;

/// A `select!` that drops `call` once `ready` is done; fails when `call` finishes first.
async fn drop_once<T: std::fmt::Debug>(
    call: impl Future<Output = T>,
    ready: impl Future<Output = ()>,
) {
    tokio::select! {
        answer = call => panic!("the call was answered before it was dropped: {answer:?}"),
        () = ready => {}
    }
}

/// `err` is the peer's answer (not a local failure) with this code.
fn assert_answered(err: &Error, code: ErrorCode) {
    assert!(
        matches!(err, Error::Rpc(obj) if obj.code() == code),
        "expected the peer's {code:?} answer, got {err:?}"
    );
}

fn response(id: &Value, result: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "result": result })
}

/// A typed call dropped by a `select!`, one past a `tokio::time::timeout`, and one past its
/// own request timeout: each handler stops at once, is counted out of the connection's
/// requests in flight, and the connection stays healthy.
pub async fn dropped_calls_stop_their_handlers(wire: Wire) {
    let pair = wire.pair(server(), |c| c).await;
    let stub = WorkClient::new(&pair.client);
    let work = &pair.work;
    let conn = pair.server_conn();

    drop_once(
        stub.hold(1),
        eventually("the handler to run", || work.running() == 1),
    )
    .await;
    soon("the dropped call's handler to stop", || {
        work.running() == 0 && work.cancelled() == 1
    })
    .await;
    soon("the request to leave the in-flight count", || {
        conn.requests_in_flight() == 0
    })
    .await;
    assert_eq!(work.finished(), 0, "{:?}", work.state());
    assert_eq!(pair.client.connection().unwrap().pending_calls(), 0);

    let timed_out = tokio::time::timeout(Duration::from_millis(100), stub.hold(2)).await;
    assert!(timed_out.is_err(), "the hold call is never answered");
    soon("the timed-out call's handler to stop", || {
        work.cancelled() == 2 && work.running() == 0
    })
    .await;

    let err = pair
        .client
        .request_with_timeout("hold", json!({ "tag": 3 }), Duration::from_millis(100))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");
    soon("the call past its timeout to stop its handler", || {
        work.cancelled() == 3 && work.running() == 0
    })
    .await;
    assert_eq!(work.started(), 3);
    assert_eq!(work.finished(), 0);

    pair.still_healthy().await;
    pair.stop().await;
}

/// Cascading: the server's `relay` awaits the client's `wait`; dropping the outer call stops
/// `relay`, whose abandoned callback is cancelled in turn, so the client's handler stops too.
pub async fn a_cancelled_handler_cancels_its_callback(wire: Wire) {
    let pair = wire.pair(server(), |c| c).await;
    let (work, back) = (&pair.work, &pair.back);

    drop_once(
        WorkClient::new(&pair.client).relay(7),
        eventually("the callback to run", || back.running() == 1),
    )
    .await;
    soon("the server's handler to stop", || {
        work.running() == 0 && work.cancelled() == 1
    })
    .await;
    soon("the client's handler (the callback) to stop", || {
        back.running() == 0 && back.cancelled() == 1
    })
    .await;
    assert_eq!((work.finished(), back.finished()), (0, 0));
    let conn = pair.server_conn();
    soon("the callback to leave the server's pending calls", || {
        conn.pending_calls() == 0
    })
    .await;

    pair.still_healthy().await;
    pair.stop().await;
}

/// The other direction: a call of the server's into the client, dropped, stops the client's
/// handler.
pub async fn a_dropped_server_call_stops_the_client_handler(wire: Wire) {
    let pair = wire.pair(server(), |c| c).await;
    let back = &pair.back;
    let conn = pair.server_conn();

    drop_once(
        BackClient::new(&conn).wait(3),
        eventually("the client's handler to run", || back.running() == 1),
    )
    .await;
    soon("the client's handler to stop", || {
        back.running() == 0 && back.cancelled() == 1
    })
    .await;
    assert_eq!(back.finished(), 0);
    assert_eq!(conn.pending_calls(), 0);

    pair.still_healthy().await;
    pair.stop().await;
}

/// A typed batch dropped while two items run: both stop; the items that had finished (one on
/// its first poll, one after a short sleep) are not counted as cancelled.
pub async fn a_dropped_batch_cancels_each_unanswered_item(wire: Wire) {
    let pair = wire.pair(server(), |c| c).await;
    let work = &pair.work;

    let mut batch = WorkBatch::new(&pair.client);
    let _held = batch.hold(1);
    let _quick = batch.quick(2);
    let _napped = batch.nap(1);
    let _held_too = batch.hold(3);
    drop_once(
        batch.send_batch(),
        eventually("two items to run and two to finish", || {
            work.running() == 2 && work.finished() == 1 && work.quick() == 1
        }),
    )
    .await;
    soon("both running items to stop", || {
        work.running() == 0 && work.cancelled() == 2
    })
    .await;
    assert_eq!(work.finished(), 1, "the finished item is unaffected");
    assert_eq!(work.quick(), 1);
    assert_eq!(pair.client.connection().unwrap().pending_calls(), 0);

    pair.still_healthy().await;
    pair.stop().await;
}

/// Items of a received batch are cancelled one by one: the cancelled item answers -32800 in
/// the batch's reply, the others answer as usual, each exactly once.
pub async fn batch_items_are_cancelled_one_by_one(wire: Wire) {
    let server = server().build();
    let work = std::sync::Arc::new(Tracker::default());
    server
        .mount(WorkServer::new(WorkImpl(std::sync::Arc::clone(&work))))
        .unwrap();
    let (_conn, mut peer) = wire.raw(&server).await;

    peer.send(json!([
        request(1, "hold", json!({ "tag": 1 })),
        request(2, "hold", json!({ "tag": 2 })),
        request(3, "quick", json!({ "tag": 3 })),
    ]))
    .await;
    eventually("two items to run", || work.running() == 2).await;
    peer.send(cancel(1)).await;
    soon("the cancelled item to stop", || {
        work.cancelled() == 1 && work.running() == 1
    })
    .await;
    assert_eq!(
        peer.next_within(Duration::from_millis(50)).await,
        None,
        "the reply waits for the item still running"
    );
    work.release(1);
    let reply = peer
        .recv_soon("the batch's reply once its last item is released")
        .await;
    assert_eq!(reply.as_array().map(Vec::len), Some(3), "{reply}");
    let mut answers = Answers::default();
    answers.record(reply);
    let first = answers.to(&json!(1));
    assert_eq!(first.len(), 1);
    assert_eq!(error_code(&first[0]), Some(-32800), "{}", first[0]);
    assert_eq!(first[0]["error"]["message"], "request cancelled");
    assert_eq!(answers.to(&json!(2)), [response(&json!(2), json!(2))]);
    assert_eq!(answers.to(&json!(3)), [response(&json!(3), json!(3))]);
    assert_eq!(peer.next_within(QUIET).await, None, "one reply only");
    assert_eq!((work.finished(), work.cancelled()), (1, 1));
    within("stop", server.stop()).await;
}

/// `#[echorpc(timeout = "250ms")]`: past its budget the handler is dropped and answered
/// -32002; a call within the budget, and a method without a budget, are unaffected.
pub async fn a_method_past_its_budget_is_answered_32002(wire: Wire) {
    let pair = wire.pair(server(), |c| c).await;
    let stub = WorkClient::new(&pair.client);
    let work = &pair.work;

    let started = Instant::now();
    let err = within("budgeted", stub.budgeted(60_000)).await.unwrap_err();
    let took = started.elapsed();
    assert_answered(&err, ErrorCode::TIMEOUT);
    assert_eq!(
        (work.cancelled(), work.running()),
        (1, 0),
        "the handler is dropped before it is answered"
    );
    assert!(took >= METHOD_BUDGET, "answered after {took:?}");
    if wire.paused() {
        assert!(took < METHOD_BUDGET + Duration::from_millis(10), "{took:?}");
    }

    assert_eq!(within("budgeted", stub.budgeted(10)).await.unwrap(), 10);
    assert_eq!(within("nap", stub.nap(400)).await.unwrap(), 400);
    assert_eq!((work.finished(), work.cancelled()), (2, 1));

    pair.still_healthy().await;
    pair.stop().await;
}

/// The server-wide budget applies to methods without their own, and a method's own budget wins
/// over it; the client's budget applies to the handlers the server calls.
pub async fn handler_timeouts_of_server_and_client(wire: Wire) {
    let server_budget = Duration::from_secs(2);
    let client_budget = Duration::from_millis(300);
    let pair = wire
        .pair(server().handler_timeout(server_budget), |c| {
            c.handler_timeout(client_budget)
        })
        .await;
    let stub = WorkClient::new(&pair.client);
    let (work, back) = (&pair.work, &pair.back);

    let started = Instant::now();
    let err = within("nap", stub.nap(60_000)).await.unwrap_err();
    let took = started.elapsed();
    assert_answered(&err, ErrorCode::TIMEOUT);
    assert_eq!((work.cancelled(), work.running()), (1, 0));
    assert!(took >= server_budget, "answered after {took:?}");

    let started = Instant::now();
    let err = within("budgeted", stub.budgeted(60_000)).await.unwrap_err();
    let took = started.elapsed();
    assert_answered(&err, ErrorCode::TIMEOUT);
    assert!(
        took >= METHOD_BUDGET && took < server_budget,
        "the method's own budget wins: answered after {took:?}"
    );
    assert_eq!(work.cancelled(), 2);
    assert_eq!(within("nap", stub.nap(5)).await.unwrap(), 5);

    let conn = pair.server_conn();
    let started = Instant::now();
    let err = within("wait", BackClient::new(&conn).wait(1))
        .await
        .unwrap_err();
    assert_answered(&err, ErrorCode::TIMEOUT);
    assert!(started.elapsed() >= client_budget);
    assert_eq!((back.cancelled(), back.running()), (1, 0));

    pair.still_healthy().await;
    pair.stop().await;
}

/// With `send_cancellations(false)` on both ends, a dropped call leaves the peer's handler
/// running until it finishes on its own.
pub async fn no_cancellations_when_turned_off(wire: Wire) {
    let pair = wire
        .pair(server().send_cancellations(false), |c| {
            c.send_cancellations(false)
        })
        .await;
    let (work, back) = (&pair.work, &pair.back);

    drop_once(
        WorkClient::new(&pair.client).hold(1),
        eventually("the server's handler to run", || work.running() == 1),
    )
    .await;
    let conn = pair.server_conn();
    drop_once(
        BackClient::new(&conn).wait(2),
        eventually("the client's handler to run", || back.running() == 1),
    )
    .await;
    tokio::time::sleep(QUIET).await;
    assert_eq!((work.running(), work.cancelled()), (1, 0), "not cancelled");
    assert_eq!((back.running(), back.cancelled()), (1, 0), "not cancelled");

    work.release(1);
    back.release(1);
    eventually("both handlers to finish", || {
        work.finished() == 1 && back.finished() == 1
    })
    .await;
    assert_eq!((work.cancelled(), back.cancelled()), (0, 0));

    pair.still_healthy().await;
    pair.stop().await;
}

/// What an abandoned call puts on the wire, seen by a raw peer: nothing after an answered
/// call; after a call past its timeout, exactly `$/cancelRequest {"id": ID}` (or nothing with
/// `send_cancellations(false)`); an answer arriving after that is dropped quietly.
pub async fn the_wire_of_an_abandoned_call(wire: Wire, send_cancellations: bool) {
    let server = server().send_cancellations(send_cancellations).build();
    let (conn, mut peer) = wire.raw(&server).await;

    let answered = tokio::spawn({
        let conn = conn.clone();
        async move { conn.request("ask", json!({ "n": 0 })).await }
    });
    let asked = peer.recv().await;
    assert_eq!(asked["method"], "ask", "{asked}");
    peer.send(response(&asked["id"], json!("ok"))).await;
    let answer = within("the answered call", answered).await.unwrap();
    assert_eq!(answer.unwrap(), json!("ok"));
    assert_eq!(
        peer.next_within(QUIET).await,
        None,
        "an answered call is not cancelled"
    );

    let abandoned = tokio::spawn({
        let conn = conn.clone();
        async move {
            conn.request_with_timeout("ask", json!({ "n": 1 }), Duration::from_millis(100))
                .await
        }
    });
    let asked = peer.recv().await;
    let id = asked["id"].clone();
    assert!(id.is_u64(), "our ids are numbers: {asked}");
    let err = within("the abandoned call", abandoned)
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");
    if send_cancellations {
        assert_eq!(peer.recv().await, cancel(id.clone()));
    }
    assert_eq!(
        peer.next_within(QUIET).await,
        None,
        "one cancellation at most"
    );

    peer.send(response(&id, json!("late"))).await;
    assert_eq!(
        peer.next_within(QUIET).await,
        None,
        "a late answer is dropped quietly"
    );
    assert!(conn.is_open());
    assert_eq!(conn.pending_calls(), 0);

    let later = tokio::spawn({
        let conn = conn.clone();
        async move { conn.request("ask", json!({ "n": 2 })).await }
    });
    let asked = peer.recv().await;
    assert_ne!(asked["id"], id, "ids are not reused");
    peer.send(response(&asked["id"], json!("fresh"))).await;
    let answer = within("the later call", later).await.unwrap();
    assert_eq!(answer.unwrap(), json!("fresh"));
    within("stop", server.stop()).await;
}

/// Cancellations racing the handler's own answer, in every order: each request gets exactly
/// one answer (its result, or -32800 when the cancellation won), nothing else is sent, and a
/// cancelled handler never finished.
pub async fn cancel_racing_the_answer(wire: Wire, rounds: u64) {
    let server = server().build();
    let work = std::sync::Arc::new(Tracker::default());
    server
        .mount(WorkServer::new(WorkImpl(std::sync::Arc::clone(&work))))
        .unwrap();
    let (conn, mut peer) = wire.raw(&server).await;
    let mut answers = Answers::default();
    let (mut results, mut cancelled) = (0, 0);

    for round in 0..rounds {
        let id = if round % 2 == 0 {
            json!(round)
        } else {
            json!(format!("r{round}"))
        };
        peer.send(request(id.clone(), "hold", json!({ "tag": round })))
            .await;
        eventually("the handler to run", || work.running() == 1).await;
        let finished_before = work.finished();
        match round % 4 {
            0 => {
                work.release(1);
                peer.send(cancel(id.clone())).await;
            }
            1 => {
                peer.send(cancel(id.clone())).await;
                work.release(1);
            }
            2 => {
                work.release(1);
                tokio::task::yield_now().await;
                peer.send(json!([cancel(id.clone())])).await;
            }
            _ => {
                let cancelling = peer.send(cancel(id.clone()));
                let releasing = async {
                    tokio::task::yield_now().await;
                    work.release(1);
                };
                tokio::join!(cancelling, releasing);
            }
        }
        let answer = peer.recv_soon("the one answer, cancelled or not").await;
        assert_eq!(answer["id"], id, "round {round}: {answer}");
        answers.record(answer.clone());
        if error_code(&answer) == Some(-32800) {
            cancelled += 1;
            assert!(
                work.take_back(),
                "round {round}: the cancelled handler did not take its permit"
            );
            assert_eq!(work.finished(), finished_before, "round {round}");
        } else {
            results += 1;
            assert_eq!(answer, response(&id, json!(round)), "round {round}");
            assert_eq!(work.finished(), finished_before + 1, "round {round}");
        }
        soon("the handler to be gone", || work.running() == 0).await;
    }
    eprintln!("{rounds} rounds: {results} answered, {cancelled} cancelled");
    assert_eq!(peer.next_within(QUIET).await, None, "no second answer");
    assert_eq!(answers.0.len() as u64, rounds);
    assert!(answers.0.values().all(|a| a.len() == 1));
    assert_eq!(results + cancelled, rounds);
    assert_eq!(work.cancelled() as u64, cancelled);
    assert!(!work.take_back(), "no permit left over");
    assert!(conn.is_open());
    let answer = peer
        .exchange(request("after", "quick", json!({ "tag": 5 })))
        .await;
    assert_eq!(answer, response(&json!("after"), json!(5)));
    within("stop", server.stop()).await;
}

/// Cancellations that match nothing are ignored without a reply: another JSON type of the
/// id (`"42"` is not `42`), unknown and answered ids, params without a valid id. The
/// connection stays healthy, and a matching cancellation then stops exactly its request.
pub async fn cancellations_that_match_nothing_are_ignored(wire: Wire) {
    let server = server().build();
    let work = std::sync::Arc::new(Tracker::default());
    server
        .mount(WorkServer::new(WorkImpl(std::sync::Arc::clone(&work))))
        .unwrap();
    let (conn, mut peer) = wire.raw(&server).await;

    peer.send(request(42, "hold", json!({ "tag": 1 }))).await;
    eventually("the handler to run", || work.running() == 1).await;
    let answered = peer
        .exchange(request("q", "quick", json!({ "tag": 2 })))
        .await;
    assert_eq!(answered, response(&json!("q"), json!(2)));

    let ignored = [
        cancel("42"),
        cancel(43),
        cancel(-42),
        cancel("q"),
        cancel(Value::Null),
        cancel(true),
        cancel(json!([42])),
        cancel(json!({ "id": 42 })),
        cancel_with(json!({})),
        cancel_with(json!({ "ID": 42 })),
        cancel_with(json!([42])),
        cancel_with(json!(42)),
        cancel_with(json!("42")),
        cancel_with(Value::Null),
        json!({ "jsonrpc": "2.0", "method": "$/cancelRequest" }),
    ];
    for frame in ignored {
        peer.send(frame).await;
    }
    assert_eq!(peer.next_within(QUIET).await, None, "nothing is answered");
    assert_eq!(
        (work.running(), work.cancelled()),
        (1, 0),
        "nothing is cancelled"
    );
    assert!(conn.is_open());
    let answer = peer
        .exchange(request("q2", "quick", json!({ "tag": 3 })))
        .await;
    assert_eq!(answer, response(&json!("q2"), json!(3)));

    // The string id "42" next to the number 42: each cancellation stops its own request.
    peer.send(request("42", "hold", json!({ "tag": 4 }))).await;
    eventually("both handlers to run", || work.running() == 2).await;
    peer.send(cancel(42)).await;
    let answer = peer.recv_soon("-32800 for the number 42").await;
    assert_eq!(answer["id"], json!(42), "{answer}");
    assert_eq!(error_code(&answer), Some(-32800), "{answer}");
    assert_eq!(answer["error"]["message"], "request cancelled");
    soon("the number's handler to stop", || {
        work.cancelled() == 1 && work.running() == 1
    })
    .await;
    peer.send(cancel(42)).await;
    assert_eq!(peer.next_within(QUIET).await, None, "answered once only");
    peer.send(cancel("42")).await;
    let answer = peer.recv_soon("-32800 for the string \"42\"").await;
    assert_eq!(answer["id"], json!("42"), "{answer}");
    assert_eq!(error_code(&answer), Some(-32800), "{answer}");
    soon("the string's handler to stop", || {
        work.cancelled() == 2 && work.running() == 0
    })
    .await;
    assert_eq!(work.finished(), 0);
    assert_eq!(peer.next_within(QUIET).await, None);
    assert!(conn.is_open());
    within("stop", server.stop()).await;
}

/// Cascading from a budget: the server's `relay` runs past the server-wide budget while it
/// awaits the client's `wait`; it is answered -32002, and the callback it abandoned is
/// cancelled, so the client's handler stops too.
pub async fn a_handler_past_its_budget_cancels_its_callback(wire: Wire) {
    let budget = Duration::from_millis(500);
    let pair = wire.pair(server().handler_timeout(budget), |c| c).await;
    let (work, back) = (&pair.work, &pair.back);

    let err = within("relay", WorkClient::new(&pair.client).relay(1))
        .await
        .unwrap_err();
    assert_answered(&err, ErrorCode::TIMEOUT);
    assert_eq!((work.cancelled(), work.running()), (1, 0));
    assert_eq!(back.started(), 1, "the callback ran");
    soon("the client's handler (the callback) to stop", || {
        back.running() == 0 && back.cancelled() == 1
    })
    .await;
    assert_eq!(back.finished(), 0);

    pair.still_healthy().await;
    pair.stop().await;
}
