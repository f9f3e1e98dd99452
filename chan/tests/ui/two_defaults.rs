fn main() {
    let ch = chan::make::<i32>(0);
    chan::select! {
        v = <-ch => drop(v),
        default => {}
        default => {}
    }
}
