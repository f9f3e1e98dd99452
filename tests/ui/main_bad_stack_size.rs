#[goro::main(stack_size = "1mb")]
fn main() {}
