//! Cancellation (issue 10) over real WebSocket connections on 127.0.0.1: the scenarios of
//! `echorpc/tests/cancel_support` (shared with the in-memory run in
//! `echorpc/tests/cancel_memory.rs`), here on real time and real sockets.

#[path = "../echorpc/tests/cancel_support/mod.rs"]
mod cancel_support;

use cancel_support::Wire;
use cancel_support::scenarios;

#[tokio::test]
async fn dropped_calls_stop_their_handlers() {
    scenarios::dropped_calls_stop_their_handlers(Wire::Socket).await;
}

#[tokio::test]
async fn a_cancelled_handler_cancels_its_callback() {
    scenarios::a_cancelled_handler_cancels_its_callback(Wire::Socket).await;
}

#[tokio::test]
async fn a_dropped_server_call_stops_the_client_handler() {
    scenarios::a_dropped_server_call_stops_the_client_handler(Wire::Socket).await;
}

#[tokio::test]
async fn a_dropped_batch_cancels_each_unanswered_item() {
    scenarios::a_dropped_batch_cancels_each_unanswered_item(Wire::Socket).await;
}

#[tokio::test]
async fn batch_items_are_cancelled_one_by_one() {
    scenarios::batch_items_are_cancelled_one_by_one(Wire::Socket).await;
}

#[tokio::test]
async fn a_method_past_its_budget_is_answered_32002() {
    scenarios::a_method_past_its_budget_is_answered_32002(Wire::Socket).await;
}

#[tokio::test]
async fn handler_timeouts_of_server_and_client() {
    scenarios::handler_timeouts_of_server_and_client(Wire::Socket).await;
}

#[tokio::test]
async fn a_handler_past_its_budget_cancels_its_callback() {
    scenarios::a_handler_past_its_budget_cancels_its_callback(Wire::Socket).await;
}

#[tokio::test]
async fn no_cancellations_when_turned_off() {
    scenarios::no_cancellations_when_turned_off(Wire::Socket).await;
}

#[tokio::test]
async fn an_abandoned_call_sends_cancel_request_and_drops_the_late_answer() {
    scenarios::the_wire_of_an_abandoned_call(Wire::Socket, true).await;
}

#[tokio::test]
async fn send_cancellations_false_sends_nothing() {
    scenarios::the_wire_of_an_abandoned_call(Wire::Socket, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_racing_the_answer() {
    scenarios::cancel_racing_the_answer(Wire::Socket, 200).await;
}

#[tokio::test]
async fn cancellations_that_match_nothing_are_ignored() {
    scenarios::cancellations_that_match_nothing_are_ignored(Wire::Socket).await;
}
