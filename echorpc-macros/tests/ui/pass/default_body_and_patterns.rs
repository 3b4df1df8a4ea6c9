//! A provided method body, `mut` argument names, and a service with no events (so no
//! `…Events` type is generated).

#[echorpc::service]
pub trait Counter {
    async fn next(&self, mut step: i64) -> i64 {
        step += 1;
        step
    }
    async fn reset(&self);
}

struct Impl;

impl Counter for Impl {
    async fn reset(&self) {}
}

fn main() {
    let _ = CounterServer::new(Impl);
    let _ = CounterClient::<echorpc::Client>::new;
}
