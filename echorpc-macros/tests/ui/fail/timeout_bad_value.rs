#[echorpc::service]
trait Calc {
    #[echorpc(timeout = "5 seconds")]
    async fn add(&self, a: i64, b: i64) -> i64;
}

fn main() {}
