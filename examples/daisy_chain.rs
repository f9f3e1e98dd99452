//! Pike's daisy chain: 100,000 goroutines in a row, each passing on one more than it got.
//!
//! A port of the "Daisy-chain" slide of Rob Pike's talk "Go Concurrency Patterns"
//! (Google I/O 2012). A Chinese-whispers game: the rightmost goroutine starts with 1, each one
//! adds 1, and the leftmost channel receives 100,001.
//!
//! ```go
//! func f(left, right chan int) {
//!     left <- 1 + <-right
//! }
//!
//! func main() {
//!     const n = 100000
//!     leftmost := make(chan int)
//!     right := leftmost
//!     left := leftmost
//!     for i := 0; i < n; i++ {
//!         right = make(chan int)
//!         go f(left, right)
//!         left = right
//!     }
//!     go func(c chan int) { c <- 1 }(right)
//!     fmt.Println(<-leftmost)
//! }
//! ```

use goro::chan::{self, Chan};
use goro::go;

fn f(left: Chan<u64>, right: Chan<u64>) {
    left.send(1 + right.recv().unwrap());
}

#[goro::main]
fn main() {
    const N: usize = 100_000;
    let leftmost = chan::make::<u64>(0);
    let mut left = leftmost.clone();
    for _ in 0..N {
        let right = chan::make(0);
        let r = right.clone();
        go!(move || f(left, r));
        left = right;
    }
    let right = left; // Go's `right`: the last channel made
    go!(move || right.send(1));
    println!("{}", leftmost.recv().unwrap());
}
