pub struct Sum(pub i64);

#[echorpc::service]
pub trait Calc {
    async fn add(&self, a: i64, b: i64) -> Sum;
}

fn main() {}
