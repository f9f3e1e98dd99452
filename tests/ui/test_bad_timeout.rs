#[goro::test(timeout = "10")]
fn no_unit() {}

fn main() {}
