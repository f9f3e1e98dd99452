// The body's value comes back from a goroutine: it must be Send.
#[goro::main]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    Ok(())
}
