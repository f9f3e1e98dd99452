//! Pipelines: generate -> (filter ->) square -> fan-out/fan-in -> aggregate.
//!
//! A port of the Go blog's "Go Concurrency Patterns: Pipelines and cancellation"
//! (go.dev/blog/pipelines), first half: `gen`, `sq` and `merge`, plus a longer
//! generate -> filter -> square -> merge -> sum pipeline in the same style.
//!
//! ```go
//! func gen(nums ...int) <-chan int {
//!     out := make(chan int)
//!     go func() { for _, n := range nums { out <- n }; close(out) }()
//!     return out
//! }
//! func sq(in <-chan int) <-chan int {
//!     out := make(chan int)
//!     go func() { for n := range in { out <- n * n }; close(out) }()
//!     return out
//! }
//! func merge(cs ...<-chan int) <-chan int {
//!     var wg sync.WaitGroup
//!     out := make(chan int)
//!     output := func(c <-chan int) { for n := range c { out <- n }; wg.Done() }
//!     wg.Add(len(cs))
//!     for _, c := range cs { go output(c) }
//!     go func() { wg.Wait(); close(out) }()
//!     return out
//! }
//! func main() {
//!     c := gen(2, 3)
//!     out := sq(c)
//!     fmt.Println(<-out) // 4
//!     fmt.Println(<-out) // 9
//!     for n := range sq(sq(gen(2, 3))) { fmt.Println(n) } // 16 then 81
//!     in := gen(2, 3)
//!     c1 := sq(in) // distribute the sq work across two goroutines
//!     c2 := sq(in)
//!     for n := range merge(c1, c2) { fmt.Println(n) } // 4 then 9, or 9 then 4
//! }
//! ```
//!
//! Determinism: merge's order is not deterministic in Go either, so this port collects the
//! merged values and prints them sorted. The added pipeline (odd numbers of 1..=100, squared
//! by four workers, summed) prints only the sum.

use goro::chan::{self, Receiver};
use goro::go;
use goro::sync::WaitGroup;

/// `gen`: sends `nums` on a new channel, then closes it.
fn gen_(nums: Vec<i64>) -> Receiver<i64> {
    let out = chan::make::<i64>(0);
    let tx = out.sender();
    go!(move || {
        for n in nums {
            tx.send(n);
        }
        tx.close();
    });
    out.receiver()
}

/// `filter`: passes on the values of `input` for which `keep` holds.
fn filter(input: Receiver<i64>, keep: fn(i64) -> bool) -> Receiver<i64> {
    let out = chan::make::<i64>(0);
    let tx = out.sender();
    go!(move || {
        for n in &input {
            if keep(n) {
                tx.send(n);
            }
        }
        tx.close();
    });
    out.receiver()
}

/// `sq`: squares each value of `input`.
fn sq(input: Receiver<i64>) -> Receiver<i64> {
    let out = chan::make::<i64>(0);
    let tx = out.sender();
    go!(move || {
        for n in &input {
            tx.send(n * n);
        }
        tx.close();
    });
    out.receiver()
}

/// `merge`: fans in several channels into one, closed once all of them are drained.
fn merge(cs: Vec<Receiver<i64>>) -> Receiver<i64> {
    let wg = WaitGroup::new();
    let out = chan::make::<i64>(0);
    wg.add(cs.len() as isize);
    for c in cs {
        let (out, wg) = (out.sender(), wg.clone());
        go!(move || {
            for n in &c {
                out.send(n);
            }
            wg.done();
        });
    }
    let tx = out.sender();
    go!(move || {
        wg.wait();
        tx.close();
    });
    out.receiver()
}

#[goro::main]
fn main() {
    // Set up the pipeline and consume the output one value at a time.
    let c = gen_(vec![2, 3]);
    let out = sq(c);
    println!("{}", out.recv().unwrap()); // 4
    println!("{}", out.recv().unwrap()); // 9

    // Stages compose: sq(sq(gen(...))).
    for n in &sq(sq(gen_(vec![2, 3]))) {
        println!("{n}"); // 16 then 81
    }

    // Fan-out: two sq workers read from the same channel; fan-in: merge.
    let input = gen_(vec![2, 3]);
    let c1 = sq(input.clone());
    let c2 = sq(input);
    let mut merged: Vec<i64> = merge(vec![c1, c2]).iter().collect();
    merged.sort_unstable(); // Go: "4 then 9, or 9 then 4"
    for n in merged {
        println!("{n}");
    }

    // generate -> filter -> fan out to 4 squarers -> merge -> aggregate.
    let odd = filter(gen_((1..=100).collect()), |n| n % 2 == 1);
    let workers: Vec<_> = (0..4).map(|_| sq(odd.clone())).collect();
    drop(odd);
    let (count, sum) = merge(workers)
        .iter()
        .fold((0, 0), |(c, s), n| (c + 1, s + n));
    println!("sum of the squares of the {count} odd numbers in 1..=100: {sum}");
}
