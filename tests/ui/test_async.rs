#[goro::test]
async fn later() {}

fn main() {}
