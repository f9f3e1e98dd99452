//! A bounded worker pool with `errgroup`: at most 3 jobs at a time (`SetLimit`), and the
//! first error cancels the jobs still running or not yet started (`WithContext`).
//!
//! The modern Go idiom for Go by Example's "Worker Pools", with
//! `golang.org/x/sync/errgroup` in place of hand-made jobs/results channels.
//!
//! ```go
//! // process squares job after work (a sleep); job 2 of a bad batch fails at once.
//! func process(ctx context.Context, job int, work time.Duration, bad int) (int, error) {
//!     if job == bad { return 0, fmt.Errorf("job %d: invalid input", job) }
//!     select {
//!     case <-time.After(work): return job * job, nil
//!     case <-ctx.Done():       return 0, ctx.Err()
//!     }
//! }
//!
//! func batch(name string, jobs int, work time.Duration, bad int) {
//!     g, ctx := errgroup.WithContext(context.Background())
//!     g.SetLimit(3)
//!     outcome := make([]string, jobs)
//!     var running, peak atomic.Int32
//!     for i := range jobs {
//!         g.Go(func() error { // blocks while 3 are running
//!             n := running.Add(1)
//!             defer running.Add(-1)
//!             for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {}
//!             r, err := process(ctx, i+1, work, bad)
//!             if err != nil { outcome[i] = err.Error() } else { outcome[i] = fmt.Sprint(r) }
//!             return err
//!         })
//!     }
//!     err := g.Wait()
//!     for i, o := range outcome { fmt.Printf("%s: job %d -> %s\n", name, i+1, o) }
//!     fmt.Printf("%s: err = %v; never more than 3 at once: %v\n", name, err, peak.Load() <= 3)
//! }
//!
//! func main() {
//!     batch("good batch", 9, 10*time.Millisecond, 0)
//!     batch("bad batch", 9, time.Second, 2)
//! }
//! ```
//!
//! Determinism: in the bad batch, job 2 fails as soon as it starts, so jobs 1 and 3 (1 s of
//! work each) are cancelled long before they could finish, and jobs 4-9 start only after
//! the cancellation; the first error is therefore always job 2's. The good batch takes
//! about 30 ms, the bad one a few.

use goro::context::{self, Context};
use goro::select;
use goro::sync::{ErrGroup, Mutex};
use goro::time::Duration;
use std::error::Error as StdError;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

type Error = Box<dyn StdError + Send + Sync>;

const LIMIT: usize = 3;

/// Squares `job` after `work` (the work: a sleep), unless cancelled first. Job `bad` fails
/// at once.
fn process(ctx: &Context, job: u64, work: Duration, bad: u64) -> Result<u64, Error> {
    if job == bad {
        return Err(format!("job {job}: invalid input").into());
    }
    select! {
        timeout(work) => Ok(job * job),
        <-ctx.done() => Err(ctx.err().expect("done is closed").into()),
    }
}

fn batch(name: &str, jobs: usize, work: Duration, bad: u64) {
    let (g, ctx): (ErrGroup, _) = ErrGroup::with_context(&context::background());
    g.set_limit(Some(LIMIT));
    let outcome = Arc::new(Mutex::new(vec![String::new(); jobs]));
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    for i in 0..jobs {
        let (ctx, outcome, running, peak) =
            (ctx.clone(), outcome.clone(), running.clone(), peak.clone());
        g.go(move || {
            let n = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(n, Ordering::SeqCst);
            let r = process(&ctx, i as u64 + 1, work, bad);
            running.fetch_sub(1, Ordering::SeqCst);
            let (o, r) = match r {
                Ok(v) => (v.to_string(), Ok(())),
                Err(e) => (e.to_string(), Err(e)),
            };
            outcome.lock()[i] = o;
            r
        });
    }
    let err = g.wait();
    for (i, o) in outcome.lock().iter().enumerate() {
        println!("{name}: job {} -> {o}", i + 1);
    }
    let err = match err {
        Ok(()) => "<nil>".to_string(),
        Err(e) => e.to_string(),
    };
    println!(
        "{name}: err = {err}; never more than {LIMIT} at once: {}",
        peak.load(Ordering::SeqCst) <= LIMIT
    );
}

#[goro::main]
fn main() {
    batch("good batch", 9, Duration::from_millis(10), 0);
    batch("bad batch", 9, Duration::from_secs(1), 2);
}
