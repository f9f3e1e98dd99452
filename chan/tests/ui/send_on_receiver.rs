fn main() {
    let ch = chan::make::<i32>(0);
    let rx = ch.receiver();
    chan::select! {
        rx <- 1 => {}
    }
}
