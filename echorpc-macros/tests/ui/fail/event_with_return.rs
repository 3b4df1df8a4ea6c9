#[echorpc::service]
pub trait Chat {
    #[echorpc(event)]
    async fn said(&self, text: String) -> bool;
}

fn main() {}
