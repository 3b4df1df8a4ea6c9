//! The router over the in-memory transport, on tokio's paused clock: the inline first poll and
//! the in-flight cap, event ordering, and batch assembly. A raw peer writes JSON frames to a
//! server's connection and reads what it answers.

mod core_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use core_support::*;
use echorpc::{Error, Limits, Server};
use serde_json::{Value, json};

/// Registers `instant` (answers its params at once) and `slow` (answers its params once the
/// gate lets it through); returns how many `slow` calls started.
fn instant_and_slow(server: &Server, gate: &Gate) -> Arc<AtomicUsize> {
    server
        .register(
            "instant",
            |p: Value, _conn| async move { Ok::<_, Error>(p) },
        )
        .unwrap();
    let started = Arc::new(AtomicUsize::new(0));
    let (gate, count) = (gate.clone(), Arc::clone(&started));
    server
        .register("slow", move |p: Value, _conn| {
            let gate = gate.clone();
            count.fetch_add(1, Ordering::SeqCst);
            async move {
                gate.pass().await;
                Ok::<_, Error>(p)
            }
        })
        .unwrap();
    started
}

// 1. The inline first poll.

#[tokio::test(start_paused = true)]
async fn instant_handlers_are_answered_without_taking_an_in_flight_slot() {
    let server = server_with(Limits::default().with_max_in_flight(1));
    let gate = Gate::new();
    instant_and_slow(&server, &gate);
    server
        .register("in_flight", |_: Value, conn| async move {
            Ok::<_, Error>(conn.requests_in_flight())
        })
        .unwrap();
    let (conn, mut peer) = accept(&server).await;

    // A burst of handlers that finish at once, all written before the server reads any: were
    // each one counted until a task of its own had run, all but the first would be refused.
    for i in 1..=40 {
        peer.send(request(i, "instant", json!({ "i": i }))).await;
    }
    for i in 1..=40 {
        let answer = peer.recv().await;
        assert_eq!(answer["id"], json!(i), "answers in request order");
        assert_eq!(
            answer["result"],
            json!({ "i": i }),
            "instant request {i} answered"
        );
    }
    // A handler that finishes at once does not count itself.
    let answer = peer.exchange(request(41, "in_flight", json!(null))).await;
    assert_eq!(answer["result"], json!(0));
    assert_eq!(conn.requests_in_flight(), 0);

    // Two that wait: the first takes the one slot, the second is refused.
    peer.send(request(42, "slow", json!("held"))).await;
    peer.send(request(43, "slow", json!("refused"))).await;
    let refused = peer.recv().await;
    assert_eq!(refused["id"], json!(43));
    assert_eq!(error_code(&refused), Some(-32004), "{refused}");
    assert_eq!(conn.requests_in_flight(), 1);

    gate.open(1);
    let answer = peer.recv().await;
    assert_eq!(
        (answer["id"].clone(), answer["result"].clone()),
        (json!(42), json!("held"))
    );
    assert_eq!(conn.requests_in_flight(), 0);
    // The slot is free again for the next.
    peer.send(request(44, "slow", json!("next"))).await;
    gate.open(1);
    assert_eq!(peer.recv().await["result"], json!("next"));
    assert_eq!(conn.requests_in_flight(), 0);
}

// 4. The in-flight cap.

#[tokio::test(start_paused = true)]
async fn past_max_in_flight_a_waiting_request_is_refused_with_32004_until_a_slot_frees() {
    let server = server_with(Limits::default().with_max_in_flight(2));
    let gate = Gate::new();
    let started = instant_and_slow(&server, &gate);
    let (conn, mut peer) = accept(&server).await;

    peer.send(request(1, "slow", json!(1))).await;
    peer.send(request(2, "slow", json!(2))).await;
    until("two requests in flight", || conn.requests_in_flight() == 2).await;

    // The third is answered at once with -32004, its id echoed, and its handler never runs.
    let refused = peer.exchange(request("third", "slow", json!(3))).await;
    assert_eq!(error_code(&refused), Some(-32004), "{refused}");
    assert_eq!(refused["id"], json!("third"));
    assert_eq!(started.load(Ordering::SeqCst), 2);
    assert_eq!(conn.requests_in_flight(), 2);

    // Once one finishes, its slot is free for the next.
    gate.open(1);
    let done = peer.recv().await;
    assert!(
        done["result"] == json!(1) || done["result"] == json!(2),
        "{done}"
    );
    assert_eq!(conn.requests_in_flight(), 1);
    peer.send(request(4, "slow", json!(4))).await;
    until("the fourth request to count", || {
        conn.requests_in_flight() == 2
    })
    .await;
    assert_eq!(started.load(Ordering::SeqCst), 3);

    gate.open(2);
    let mut ids: Vec<i64> = Vec::new();
    for _ in 0..2 {
        let answer = peer.recv().await;
        assert_eq!(error_code(&answer), None, "{answer}");
        ids.push(answer["id"].as_i64().unwrap());
    }
    ids.sort_unstable();
    let first = done["id"].as_i64().unwrap();
    let expected: Vec<i64> = [1, 2, 4].into_iter().filter(|id| *id != first).collect();
    assert_eq!(ids, expected);
    assert_eq!(conn.requests_in_flight(), 0);
}

// 2. Event ordering.

type Notes = Arc<Mutex<Vec<Value>>>;

/// Registers `notes`, which answers everything the subscribers recorded so far.
fn notes_method(server: &Server) -> Notes {
    let notes = Notes::default();
    let seen = Arc::clone(&notes);
    server
        .register("notes", move |_: Value, _conn| {
            let seen = seen.lock().unwrap().clone();
            async move { Ok::<_, Error>(seen) }
        })
        .unwrap();
    notes
}

fn record(notes: &Notes, value: Value) {
    notes.lock().unwrap().push(value);
}

#[tokio::test(start_paused = true)]
async fn an_event_is_handled_before_a_request_sent_after_it() {
    let server = quiet_server().build();
    let notes = notes_method(&server);
    let sink = Arc::clone(&notes);
    server
        .subscribe("note", move |p: Value, _conn| {
            record(&sink, p);
            async {}
        })
        .unwrap();
    let (_conn, mut peer) = accept(&server).await;

    // Everything is written before the server reads any of it.
    peer.send(notification("note", json!(1))).await;
    peer.send(request(1, "notes", json!(null))).await;
    peer.send(notification("note", json!(2))).await;
    peer.send(notification("note", json!(3))).await;
    peer.send(request(2, "notes", json!(null))).await;

    assert_eq!(peer.recv().await["result"], json!([1]));
    assert_eq!(peer.recv().await["result"], json!([1, 2, 3]));
}

#[tokio::test(start_paused = true)]
async fn events_behind_a_slow_subscriber_wait_their_turn() {
    let server = quiet_server().build();
    let notes = notes_method(&server);
    let gate = Gate::new();
    let (sink, held) = (Arc::clone(&notes), gate.clone());
    server
        .subscribe("slow", move |p: Value, _conn| {
            let (sink, held) = (Arc::clone(&sink), held.clone());
            async move {
                held.pass().await;
                record(&sink, p);
            }
        })
        .unwrap();
    let sink = Arc::clone(&notes);
    server
        .subscribe("fast", move |p: Value, _conn| {
            record(&sink, p);
            async {}
        })
        .unwrap();
    let (_conn, mut peer) = accept(&server).await;

    peer.send(notification("slow", json!("s"))).await;
    peer.send(notification("fast", json!("f1"))).await;
    peer.send(notification("fast", json!("f2"))).await;
    // Requests are not held back by events, so this sees what ran so far: nothing, since the
    // fast events queue behind the slow one instead of overtaking it.
    assert_eq!(
        peer.exchange(request(1, "notes", json!(null))).await["result"],
        json!([])
    );

    gate.open(1);
    until("the queued events to run", || {
        notes.lock().unwrap().len() == 3
    })
    .await;
    assert_eq!(
        *notes.lock().unwrap(),
        vec![json!("s"), json!("f1"), json!("f2")]
    );

    // With the queue drained, events are handled inline again, before a later request.
    peer.send(notification("fast", json!("f3"))).await;
    assert_eq!(
        peer.exchange(request(2, "notes", json!(null))).await["result"],
        json!(["s", "f1", "f2", "f3"])
    );
}

#[tokio::test(start_paused = true)]
async fn a_slow_first_subscriber_holds_back_the_next_subscriber_and_the_next_event() {
    let server = quiet_server().build();
    let notes = notes_method(&server);
    let gate = Gate::new();
    let (sink, held) = (Arc::clone(&notes), gate.clone());
    server
        .subscribe("tick", move |p: Value, _conn| {
            let (sink, held) = (Arc::clone(&sink), held.clone());
            async move {
                held.pass().await;
                record(&sink, json!(["a", p]));
            }
        })
        .unwrap();
    let sink = Arc::clone(&notes);
    server
        .subscribe("tick", move |p: Value, _conn| {
            record(&sink, json!(["b", p]));
            async {}
        })
        .unwrap();
    let (_conn, mut peer) = accept(&server).await;

    peer.send(notification("tick", json!(1))).await;
    peer.send(notification("tick", json!(2))).await;
    peer.send(request(1, "notes", json!(null))).await;
    assert_eq!(peer.recv().await["result"], json!([]));

    gate.open(2);
    until("both events to run", || notes.lock().unwrap().len() == 4).await;
    assert_eq!(
        *notes.lock().unwrap(),
        vec![
            json!(["a", 1]),
            json!(["b", 1]),
            json!(["a", 2]),
            json!(["b", 2])
        ]
    );
}

// 3. Batches.

/// Registers `echo` (answers at once), `sleepy` (answers `tag` after `ms` of virtual time),
/// `count` (counts its calls) and the event `note` (counted too).
fn batch_server(limits: Limits) -> (Server, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let server = server_with(limits);
    server
        .register("echo", |p: Value, _conn| async move { Ok::<_, Error>(p) })
        .unwrap();
    server
        .register("sleepy", |p: Value, _conn| async move {
            tokio::time::sleep(Duration::from_millis(p["ms"].as_u64().unwrap())).await;
            Ok::<_, Error>(p["tag"].clone())
        })
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&calls);
    server
        .register("count", move |_: Value, _conn| {
            let n = count.fetch_add(1, Ordering::SeqCst) + 1;
            async move { Ok::<_, Error>(n) }
        })
        .unwrap();
    let events = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&events);
    server
        .subscribe("note", move |_: Value, _conn| {
            count.fetch_add(1, Ordering::SeqCst);
            async {}
        })
        .unwrap();
    (server, calls, events)
}

#[tokio::test(start_paused = true)]
async fn a_mixed_batch_is_answered_in_request_order_in_one_array() {
    let (server, _calls, events) = batch_server(Limits::default());
    let (_conn, mut peer) = accept(&server).await;

    let batch = json!([
        request(1, "sleepy", json!({ "ms": 50, "tag": "a" })),
        request(2, "echo", json!("b")),
        notification("note", json!(null)),
        request(3, "sleepy", json!({ "ms": 10, "tag": "c" })),
        request(4, "no_such_method", json!(null)),
        request("five", "echo", json!([5])),
    ]);
    let answer = peer.exchange(batch).await;
    let items = answer.as_array().expect("one array for the batch");
    let ids: Vec<&Value> = items.iter().map(|item| &item["id"]).collect();
    assert_eq!(
        ids,
        [&json!(1), &json!(2), &json!(3), &json!(4), &json!("five")],
        "no entry for the notification, the rest in request order"
    );
    assert_eq!(items[0]["result"], json!("a"));
    assert_eq!(items[1]["result"], json!("b"));
    assert_eq!(items[2]["result"], json!("c"));
    assert_eq!(error_code(&items[3]), Some(-32601));
    assert_eq!(items[4]["result"], json!([5]));
    assert_eq!(events.load(Ordering::SeqCst), 1);
    assert!(
        peer.quiet_for(Duration::from_secs(1)).await,
        "nothing but the one array is sent"
    );
}

#[tokio::test(start_paused = true)]
async fn a_batch_of_instant_requests_is_answered_in_order_at_once() {
    let (server, _calls, _events) = batch_server(Limits::default());
    let (_conn, mut peer) = accept(&server).await;
    let batch: Vec<Value> = (0..20).map(|i| request(i, "echo", json!(i * 10))).collect();
    let answer = peer.exchange(Value::Array(batch)).await;
    let results: Vec<Value> = answer
        .as_array()
        .expect("an array")
        .iter()
        .map(|item| json!([item["id"], item["result"]]))
        .collect();
    let expected: Vec<Value> = (0..20).map(|i| json!([i, i * 10])).collect();
    assert_eq!(results, expected);
}

#[tokio::test(start_paused = true)]
async fn a_batch_of_only_notifications_gets_no_reply() {
    let (server, _calls, events) = batch_server(Limits::default());
    let (_conn, mut peer) = accept(&server).await;

    peer.send(json!([
        notification("note", json!(1)),
        notification("note", json!(2)),
        notification("note", json!(3)),
    ]))
    .await;
    // The next frame is the answer to the request sent after the batch, not an empty array.
    let answer = peer.exchange(request(7, "echo", json!("after"))).await;
    assert_eq!(answer["id"], json!(7), "{answer}");
    assert_eq!(answer["result"], json!("after"));
    assert_eq!(events.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn a_batch_longer_than_max_batch_len_is_refused_whole_with_one_32600() {
    let (server, calls, events) = batch_server(Limits::default().with_max_batch_len(3));
    let (conn, mut peer) = accept(&server).await;

    let too_long = json!([
        request(1, "count", json!(null)),
        request(2, "count", json!(null)),
        notification("note", json!(null)),
        request(3, "count", json!(null)),
    ]);
    let answer = peer.exchange(too_long).await;
    assert!(answer.is_object(), "one error, not an array: {answer}");
    assert_eq!(error_code(&answer), Some(-32600), "{answer}");
    assert_eq!(answer["id"], Value::Null);
    assert!(
        answer.as_object().unwrap().contains_key("id"),
        "`id: null` is present: {answer}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0, "no handler ran");
    assert_eq!(events.load(Ordering::SeqCst), 0, "no subscriber ran");
    assert!(conn.is_open(), "the connection stays open");

    // A batch at the limit is answered as usual.
    let at_limit = json!([
        request(1, "count", json!(null)),
        request(2, "count", json!(null)),
        request(3, "count", json!(null)),
    ]);
    let answer = peer.exchange(at_limit).await;
    let results: Vec<&Value> = answer
        .as_array()
        .expect("an array")
        .iter()
        .map(|item| &item["result"])
        .collect();
    assert_eq!(results, [&json!(1), &json!(2), &json!(3)]);
}

#[tokio::test(start_paused = true)]
async fn batch_items_past_max_in_flight_are_refused_in_their_own_slot() {
    let server = server_with(Limits::default().with_max_in_flight(1));
    let gate = Gate::new();
    let started = instant_and_slow(&server, &gate);
    let (conn, mut peer) = accept(&server).await;

    peer.send(json!([
        request(1, "instant", json!("first")),
        request(2, "slow", json!("second")),
        request(3, "slow", json!("third")),
    ]))
    .await;
    until("the second item to count", || {
        conn.requests_in_flight() == 1
    })
    .await;
    assert_eq!(started.load(Ordering::SeqCst), 1, "the third never started");
    gate.open(1);
    let answer = peer.recv().await;
    let items = answer.as_array().expect("one array");
    assert_eq!(items.len(), 3, "{answer}");
    assert_eq!(items[0]["result"], json!("first"));
    assert_eq!(items[1]["result"], json!("second"));
    assert_eq!(
        (items[2]["id"].clone(), error_code(&items[2])),
        (json!(3), Some(-32004))
    );
    assert_eq!(conn.requests_in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn responses_in_a_batch_complete_our_calls_and_get_no_entry() {
    let (server, _calls, _events) = batch_server(Limits::default());
    let (conn, mut peer) = accept(&server).await;
    let call = tokio::spawn({
        let conn = conn.clone();
        async move { conn.request("question", json!(null)).await }
    });
    let asked = peer.recv().await;
    assert_eq!(asked["method"], "question");

    let answer = peer
        .exchange(json!([
            { "jsonrpc": "2.0", "id": asked["id"], "result": "the answer" },
            request(5, "echo", json!("five")),
        ]))
        .await;
    assert_eq!(
        answer,
        json!([{ "jsonrpc": "2.0", "id": 5, "result": "five" }]),
        "only the request has an entry"
    );
    let result = within("our call", call).await.unwrap();
    assert_eq!(result.unwrap(), json!("the answer"));
    assert_eq!(conn.pending_calls(), 0);
}
