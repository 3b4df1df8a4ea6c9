#[echorpc::service]
pub trait Calc {
    #[echorpc(name = "a", name = "b")]
    async fn add(&self, a: i64, b: i64) -> i64;
}

fn main() {}
