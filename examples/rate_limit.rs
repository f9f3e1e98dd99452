//! Rate limiting with a ticker: a regular limiter (one request per tick) and a bursty one
//! (a buffered channel of 3 tokens, refilled by a ticker).
//!
//! A port of Go by Example's "Rate Limiting", at 20 ms per tick instead of 200 ms so that it
//! runs in a fraction of a second.
//!
//! ```go
//! func main() {
//!     requests := make(chan int, 5)
//!     for i := 1; i <= 5; i++ { requests <- i }
//!     close(requests)
//!     limiter := time.Tick(200 * time.Millisecond)
//!     for req := range requests {
//!         <-limiter
//!         fmt.Println("request", req, time.Now())
//!     }
//!
//!     burstyLimiter := make(chan time.Time, 3)
//!     for i := 0; i < 3; i++ { burstyLimiter <- time.Now() }
//!     go func() {
//!         for t := range time.Tick(200 * time.Millisecond) { burstyLimiter <- t }
//!     }()
//!     burstyRequests := make(chan int, 5)
//!     for i := 1; i <= 5; i++ { burstyRequests <- i }
//!     close(burstyRequests)
//!     for req := range burstyRequests {
//!         <-burstyLimiter
//!         fmt.Println("request", req, time.Now())
//!     }
//! }
//! ```
//!
//! Determinism: Go prints wall-clock times. Here stdout says, for each request, the earliest
//! time the limiter allows it and whether it kept to that (a limiter never lets a request
//! through early, however loaded the machine); the measured times go to stderr.

use goro::time::{self, Duration, Instant, Ticker};
use goro::{chan, go};

const TICK: Duration = Duration::from_millis(20);

/// Prints the request if it was not let through before `not_before` (since `start`).
fn report(kind: &str, req: u32, start: Instant, not_before: Duration) {
    let at = start.elapsed();
    eprintln!("{kind} request {req} at {at:?}");
    let ms = not_before.as_millis();
    if at >= not_before {
        println!("{kind} request {req} (not before {ms} ms)");
    } else {
        println!("{kind} request {req} TOO EARLY: at {at:?}, before {ms} ms");
    }
}

#[goro::main]
fn main() {
    // Regular: one request per tick.
    let requests = chan::make::<u32>(5);
    for i in 1..=5 {
        requests.send(i);
    }
    requests.close();
    let start = Instant::now();
    let limiter = Ticker::new(TICK);
    for req in &requests {
        limiter.c().recv();
        report("regular", req, start, TICK * req);
    }
    limiter.stop();

    // Bursty: up to 3 at once, then one per tick.
    let start = Instant::now();
    let bursty_limiter = chan::make::<Instant>(3);
    for _ in 0..3 {
        bursty_limiter.send(Instant::now());
    }
    let tx = bursty_limiter.sender();
    go!(move || {
        for t in &time::tick(TICK) {
            tx.send(t);
        }
    });
    let bursty_requests = chan::make::<u32>(5);
    for i in 1..=5 {
        bursty_requests.send(i);
    }
    bursty_requests.close();
    for req in &bursty_requests {
        bursty_limiter.recv();
        report("bursty", req, start, TICK * req.saturating_sub(3));
    }
}
