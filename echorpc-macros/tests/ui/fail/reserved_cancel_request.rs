#[echorpc::service]
trait Calc {
    #[echorpc(name = "$/cancelRequest")]
    async fn cancel(&self, id: i64);
}

fn main() {}
