fn main() {
    let ch = chan::make::<i32>(0);
    chan::select! {
        timeout(std::time::Duration::from_secs(1)) => {}
        v = <-ch => drop(v),
        timeout(std::time::Duration::from_secs(2)) => {}
    }
}
