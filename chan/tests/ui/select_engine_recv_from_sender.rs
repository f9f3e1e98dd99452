// Go: receiving from a `chan<- T` does not compile; neither does goro's Select::recv on a
// Sender.
fn main() {
    let ch = chan::make::<i32>(1);
    let tx = ch.sender();
    let mut sel = chan::Select::new();
    sel.recv(&tx);
}
