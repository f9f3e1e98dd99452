#[goro::test(stack_size = "1m")]
fn big_stack() {}

fn main() {}
