use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
fn main() {
    let v = runtime::block_on(|| {
        let h = runtime::spawn(|| 20);
        h.join().unwrap() + 22
    });
    println!("block_on: {v}");
    let n = 1_000_000;
    let done = Arc::new(AtomicUsize::new(0));
    let t = Instant::now();
    let d2 = done.clone();
    runtime::block_on(move || {
        let w = runtime::Waiter::current();
        let w = Arc::new(w);
        for _ in 0..n {
            let d = d2.clone();
            let w = w.clone();
            runtime::go(move || {
                if d.fetch_add(1, Ordering::AcqRel) + 1 == n {
                    w.unpark();
                }
            });
        }
        while d2.load(Ordering::Acquire) != n {
            runtime::park(runtime::WaitReason::Park);
        }
    });
    let el = t.elapsed();
    println!("spawn {} ns/task, goroutines now {}", el.as_nanos() / n as u128, runtime::num_goroutine());
    let t = Instant::now();
    runtime::block_on(|| runtime::sleep(std::time::Duration::from_millis(10)));
    println!("sleep 10ms took {:?}", t.elapsed());
}
