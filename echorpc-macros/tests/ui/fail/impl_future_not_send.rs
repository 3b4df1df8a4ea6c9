use std::rc::Rc;

#[echorpc::service]
pub trait Calc {
    async fn add(&self, a: i64, b: i64) -> i64;
}

struct Impl;

impl Calc for Impl {
    async fn add(&self, a: i64, b: i64) -> i64 {
        let local = Rc::new(a);
        std::future::ready(()).await;
        *local + b
    }
}

fn main() {}
