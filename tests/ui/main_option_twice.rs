#[goro::main(gomaxprocs = 2, gomaxprocs = 4)]
fn main() {}
