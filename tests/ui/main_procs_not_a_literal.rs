#[goro::main(gomaxprocs = "4")]
fn main() {}
