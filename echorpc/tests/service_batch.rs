//! Typed batches: the generated `…Batch` and the runtime's `Batch`, over real sockets.

mod service_support;

use echorpc::{Batch, ErrorCode, ErrorObject};
use serde_json::json;
use service_support::*;

#[tokio::test]
async fn typed_batch_results_come_back_in_their_slots() {
    let (server, addr, _seen) = calc_server(local_server()).await;
    let client = client_for(addr).build();
    connect(&client).await;

    let mut batch = CalcBatch::new(&client);
    let slow = batch.slow_add(1, 1, 200);
    let sum = batch.add(1, 2);
    let divided = batch.divide(1, 0);
    let failed = batch.fail(4001, "out of stock".to_owned(), Some(json!({"sku": "A"})));
    let echoed = batch.echo(json!([1, 2]));
    let mut results = within("batch", batch.send_batch()).await.unwrap();
    assert_eq!(results.len(), 5);
    assert_eq!(results.take(slow).unwrap(), 2);
    assert_eq!(results.take(sum).unwrap(), Sum { sum: 3 });
    assert!(
        results.take(divided).is_err(),
        "a domain error fills only its slot"
    );
    let err = results.take(failed).unwrap_err();
    assert_eq!(
        err.as_rpc(),
        Some(&ErrorObject::new(4001, "out of stock").with_data(json!({"sku": "A"})))
    );
    assert_eq!(results.take(echoed).unwrap(), json!([1, 2]));

    within("stop", server.stop()).await;
}

#[tokio::test]
async fn a_slot_is_taken_once_and_an_empty_batch_sends_nothing() {
    let (_server, addr, _seen) = calc_server(local_server()).await;
    let client = client_for(addr).build();
    connect(&client).await;

    let mut batch = Batch::new(&client);
    let first = batch.call::<Sum, _>("add", &json!({"a": 2, "b": 2}));
    let wrong_type = batch.call::<String, _>("add", &json!({"a": 1, "b": 1}));
    let mut results = within("batch", batch.send()).await.unwrap();
    assert_eq!(results.take(first).unwrap(), Sum { sum: 4 });
    let err = results.take(wrong_type).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::INTERNAL_ERROR));

    let empty = within("empty batch", Batch::new(&client).send())
        .await
        .unwrap();
    assert!(empty.is_empty());
}

#[tokio::test]
async fn a_batch_without_a_connection_fails_with_32001() {
    let client = client_for("127.0.0.1:9".parse().unwrap()).build();
    let mut batch = CalcBatch::new(&client);
    let _slot = batch.add(1, 2);
    let err = batch.send_batch().await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NOT_CONNECTED));
}
