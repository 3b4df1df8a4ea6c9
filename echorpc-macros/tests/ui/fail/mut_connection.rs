use echorpc::Connection;

#[echorpc::service]
pub trait Calc {
    async fn whoami(&self, conn: &mut Connection) -> String;
}

fn main() {}
