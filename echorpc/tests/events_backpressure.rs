//! Events that outrun a slow subscriber: past the connection's event queue the reader holds
//! them back (and stops reading) instead of dropping any; order is kept throughout.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use echorpc::{Client, Connection, Server};

#[tokio::test(start_paused = true)]
async fn a_flood_of_events_reaches_a_slow_subscriber_whole_and_in_order() {
    const EVENTS: u64 = 1_000;
    let server = Server::builder().build();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    server
        .subscribe("tick", move |n: u64, _conn: Connection| {
            let record = Arc::clone(&record);
            async move {
                // Slow enough that the event queue (256) fills up.
                tokio::time::sleep(Duration::from_millis(1)).await;
                record.lock().unwrap().push(n);
            }
        })
        .unwrap();
    server
        .register("count", {
            let seen = Arc::clone(&seen);
            move |(): (), _conn: Connection| {
                let seen = Arc::clone(&seen);
                async move { Ok::<_, echorpc::Error>(seen.lock().unwrap().len()) }
            }
        })
        .unwrap();
    let client = server
        .connect_in_memory(Client::builder("memory"))
        .await
        .unwrap();
    for n in 0..EVENTS {
        client.publish("tick", n).await.unwrap();
    }
    // Slow subscribers run in the connection's event task: wait until every event was handled.
    let mut count = 0;
    for _ in 0..100 {
        count = client.call::<usize, _>("count", &()).await.unwrap();
        if count as u64 == EVENTS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(count as u64, EVENTS, "events lost");
    let seen = seen.lock().unwrap();
    assert!(
        seen.iter().copied().eq(0..EVENTS),
        "events out of order or lost"
    );
}
