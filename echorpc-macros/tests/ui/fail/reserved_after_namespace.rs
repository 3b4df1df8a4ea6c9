// The namespace and the method name together make `ping`.
#[echorpc::service(namespace = "p")]
pub trait Tricky {
    async fn ing(&self) -> String;
}

fn main() {}
