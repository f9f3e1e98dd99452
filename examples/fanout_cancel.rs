//! Fan-out/fan-in with cancellation: the consumer takes what it needs, then a
//! `context.WithCancel` stops the generator and every worker early.
//!
//! After the Go blog's "Pipelines and cancellation" (go.dev/blog/pipelines, "Explicit
//! cancellation"), with `context` in place of the `done` channel as Go code does today. The
//! generator is endless, so without the cancel its goroutine and the workers would block
//! forever on their sends (a goroutine leak).
//!
//! ```go
//! type result struct{ n, sq int }
//!
//! func gen(ctx context.Context) <-chan int {
//!     out := make(chan int)
//!     go func() {
//!         defer close(out)
//!         for n := 1; ; n++ {
//!             select {
//!             case out <- n:
//!             case <-ctx.Done(): return
//!             }
//!         }
//!     }()
//!     return out
//! }
//! func sq(ctx context.Context, in <-chan int, out chan<- result) {
//!     for n := range in {
//!         select {
//!         case out <- result{n, n * n}:
//!         case <-ctx.Done(): return
//!         }
//!     }
//! }
//! func main() {
//!     ctx, cancel := context.WithCancel(context.Background())
//!     var wg sync.WaitGroup
//!     in := gen(ctx)
//!     out := make(chan result)
//!     for i := 0; i < 4; i++ {
//!         wg.Add(1)
//!         go func() { defer wg.Done(); sq(ctx, in, out) }()
//!     }
//!     // Fan-in: the workers finish out of order; print the first 10 in order.
//!     pending := map[int]int{}
//!     for next := 1; next <= 10; {
//!         r := <-out
//!         pending[r.n] = r.sq
//!         for v, ok := pending[next]; ok && next <= 10; v, ok = pending[next] {
//!             fmt.Printf("%d^2 = %d\n", next, v)
//!             next++
//!         }
//!     }
//!     cancel() // enough: stop everyone
//!     wg.Wait()
//!     fmt.Println("4 workers stopped:", ctx.Err())
//! }
//! ```
//!
//! Determinism: results arrive in any order (as in Go); the consumer reorders them by `n`
//! before printing, so the output is fixed. Here `wg` also waits for the generator.

use goro::context::{self, Context};
use goro::sync::WaitGroup;
use goro::{chan, select};
use std::collections::HashMap;

/// `gen`: sends 1, 2, 3, ... until the context is cancelled.
fn gen_(ctx: &Context, wg: &WaitGroup) -> chan::Receiver<u64> {
    let out = chan::make::<u64>(0);
    let (tx, done) = (out.sender(), ctx.done());
    wg.go(move || {
        let mut n = 1;
        loop {
            select! {
                tx <- n => n += 1,
                <-done => break,
            }
        }
        tx.close(); // defer close(out)
    });
    out.receiver()
}

/// `sq`: squares what comes in until `input` closes or the context is cancelled.
fn sq(ctx: &Context, input: &chan::Receiver<u64>, out: &chan::Sender<(u64, u64)>) {
    let done = ctx.done();
    for n in input {
        select! {
            out <- (n, n * n) => {}
            <-done => return,
        }
    }
}

#[goro::main]
fn main() {
    const WORKERS: usize = 4;
    const WANT: u64 = 10;
    let (ctx, cancel) = context::with_cancel(&context::background());
    let wg = WaitGroup::new();
    let input = gen_(&ctx, &wg);
    let out = chan::make::<(u64, u64)>(0);
    for _ in 0..WORKERS {
        let (ctx, input, out) = (ctx.clone(), input.clone(), out.sender());
        wg.go(move || sq(&ctx, &input, &out));
    }

    let mut pending = HashMap::new();
    let mut next = 1;
    while next <= WANT {
        let (n, s) = out.recv().expect("nobody closes out");
        pending.insert(n, s);
        while next <= WANT {
            let Some(v) = pending.remove(&next) else {
                break;
            };
            println!("{next}^2 = {v}");
            next += 1;
        }
    }

    cancel.cancel(); // enough: stop the generator and the workers
    wg.wait();
    println!(
        "the generator and {WORKERS} workers stopped: {}",
        ctx.err().expect("cancelled")
    );
}
