use echorpc::Connection;

#[echorpc::service]
pub trait Calc {
    async fn add(&self, a: i64, conn: &Connection) -> i64;
}

fn main() {}
