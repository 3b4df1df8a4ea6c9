#[echorpc::service]
pub trait Factory {
    async fn send_batch(&self, kind: String) -> u64;
}

fn main() {}
