// Go: `reflect.Select` with a Send case on a `<-chan` panics; a typed send on one does not
// compile. goro's dynamic Select takes the direction in its types.
fn main() {
    let ch = chan::make::<i32>(1);
    let rx = ch.receiver();
    let mut sel = chan::Select::new();
    sel.send(&rx, 1);
}
