#[echorpc::service]
pub struct Calc {
    total: i64,
}

fn main() {}
