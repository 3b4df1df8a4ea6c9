#[echorpc::service]
pub trait Heartbeat {
    #[echorpc(name = "pong")]
    async fn answer(&self) -> String;
}

fn main() {}
