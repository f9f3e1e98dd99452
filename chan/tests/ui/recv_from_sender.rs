fn main() {
    let ch = chan::make::<i32>(0);
    let tx = ch.sender();
    chan::select! {
        v = <-tx => drop(v),
    }
}
