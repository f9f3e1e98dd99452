#[goro::main(gomaxprocs = 0)]
fn main() {}
