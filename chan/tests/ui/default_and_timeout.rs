fn main() {
    let ch = chan::make::<i32>(0);
    chan::select! {
        default => {}
        v = <-ch => drop(v),
        timeout(std::time::Duration::from_secs(1)) => {}
    }
}
