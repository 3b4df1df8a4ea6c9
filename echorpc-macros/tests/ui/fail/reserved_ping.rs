#[echorpc::service]
pub trait Heartbeat {
    async fn ping(&self) -> String;
}

fn main() {}
