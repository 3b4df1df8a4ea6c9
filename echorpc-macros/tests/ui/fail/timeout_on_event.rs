#[echorpc::service]
trait Calc {
    #[echorpc(event, timeout = "5s")]
    async fn tick(&self, n: i64);
}

fn main() {}
