pub struct Point {
    pub x: i64,
}

#[echorpc::service]
pub trait Geometry {
    async fn norm(&self, p: Point) -> i64;
}

fn main() {}
