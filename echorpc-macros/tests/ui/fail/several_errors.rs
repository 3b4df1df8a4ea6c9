// Every error is reported at once, each at its own span.
#[echorpc::service]
pub trait Calc {
    fn add(&self, a: i64, b: i64) -> i64;
    async fn ping(&self);
    #[echorpc(event)]
    async fn said(&self, text: String) -> bool;
}

fn main() {}
