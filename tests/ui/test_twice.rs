#[goro::test]
#[test]
fn twice() {}

fn main() {}
