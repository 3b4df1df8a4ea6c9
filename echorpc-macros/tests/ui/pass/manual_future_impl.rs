//! An implementation may return any `Send` future instead of writing `async fn`, and generic
//! code can rely on the futures being `Send`.

use std::future::Future;

#[echorpc::service]
pub trait Calc {
    async fn add(&self, a: i64, b: i64) -> i64;
}

struct Impl;

impl Calc for Impl {
    fn add(&self, a: i64, b: i64) -> impl Future<Output = i64> + Send {
        std::future::ready(a + b)
    }
}

fn assert_send<T: Send>(_: T) {}

fn generic<C: Calc>(calc: &C) {
    assert_send(calc.add(1, 2));
}

fn main() {
    generic(&Impl);
}
