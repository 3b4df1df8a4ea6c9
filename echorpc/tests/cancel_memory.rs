//! Cancellation (issue 10) over the in-memory transport, on tokio's paused clock: dropped
//! typed calls stop their handlers, cascading into callbacks, batches item by item, handler
//! budgets answered -32002, the wire of an abandoned call, cancellations racing answers, and
//! cancellations that match nothing. The same scenarios run over real sockets in
//! `tests/cancel.rs`.

mod cancel_support;

use cancel_support::scenarios;
use cancel_support::*;
use echorpc::Error;

#[tokio::test(start_paused = true)]
async fn dropped_calls_stop_their_handlers() {
    scenarios::dropped_calls_stop_their_handlers(Wire::Memory).await;
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_handler_cancels_its_callback() {
    scenarios::a_cancelled_handler_cancels_its_callback(Wire::Memory).await;
}

#[tokio::test(start_paused = true)]
async fn a_dropped_server_call_stops_the_client_handler() {
    scenarios::a_dropped_server_call_stops_the_client_handler(Wire::Memory).await;
}

#[tokio::test(start_paused = true)]
async fn a_dropped_batch_cancels_each_unanswered_item() {
    scenarios::a_dropped_batch_cancels_each_unanswered_item(Wire::Memory).await;
}

#[tokio::test(start_paused = true)]
async fn batch_items_are_cancelled_one_by_one() {
    scenarios::batch_items_are_cancelled_one_by_one(Wire::Memory).await;
}

#[tokio::test(start_paused = true)]
async fn a_method_past_its_budget_is_answered_32002() {
    scenarios::a_method_past_its_budget_is_answered_32002(Wire::Memory).await;
}

#[tokio::test(start_paused = true)]
async fn handler_timeouts_of_server_and_client() {
    scenarios::handler_timeouts_of_server_and_client(Wire::Memory).await;
}

#[tokio::test(start_paused = true)]
async fn a_handler_past_its_budget_cancels_its_callback() {
    scenarios::a_handler_past_its_budget_cancels_its_callback(Wire::Memory).await;
}

#[tokio::test(start_paused = true)]
async fn no_cancellations_when_turned_off() {
    scenarios::no_cancellations_when_turned_off(Wire::Memory).await;
}

#[tokio::test(start_paused = true)]
async fn an_abandoned_call_sends_cancel_request_and_drops_the_late_answer() {
    scenarios::the_wire_of_an_abandoned_call(Wire::Memory, true).await;
}

#[tokio::test(start_paused = true)]
async fn send_cancellations_false_sends_nothing() {
    scenarios::the_wire_of_an_abandoned_call(Wire::Memory, false).await;
}

#[tokio::test(start_paused = true)]
async fn cancel_racing_the_answer_on_one_thread() {
    scenarios::cancel_racing_the_answer(Wire::Memory, 400).await;
}

/// The same race on real time with worker threads, where the cancellation and the handler's
/// end truly run at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_racing_the_answer_on_two_threads() {
    scenarios::cancel_racing_the_answer(Wire::Memory, 400).await;
}

#[tokio::test(start_paused = true)]
async fn cancellations_that_match_nothing_are_ignored() {
    scenarios::cancellations_that_match_nothing_are_ignored(Wire::Memory).await;
}

/// `$/cancelRequest` is reserved: no method or event of that name can be registered.
#[tokio::test(start_paused = true)]
async fn cancel_request_is_a_reserved_name() {
    let server = server().build();
    let err = server
        .register("$/cancelRequest", |_: serde_json::Value, _| async {
            Ok::<_, Error>(())
        })
        .unwrap_err();
    assert!(matches!(err, Error::InvalidName { .. }), "{err:?}");
    let client = echorpc::Client::builder("memory").build();
    let err = client
        .subscribe("$/cancelRequest", |_: serde_json::Value, _| async {})
        .unwrap_err();
    assert!(matches!(err, Error::InvalidName { .. }), "{err:?}");
}
