#[goro::main]
async fn main() {}
