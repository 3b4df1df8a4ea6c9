#[derive(Debug)]
pub struct MyError;

#[echorpc::service]
pub trait Calc {
    async fn div(&self, a: i64, b: i64) -> Result<i64, MyError>;
}

fn main() {}
