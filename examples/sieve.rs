//! The concurrent prime sieve: a daisy chain of filter goroutines, one per prime found.
//!
//! A port of Go's classic sieve (golang/go `test/chan/sieve1.go`, also on the go.dev front
//! page). It prints the first N primes, N = 100 by default or the first argument.
//!
//! ```go
//! // Send the sequence 2, 3, 4, ... to channel 'ch'.
//! func Generate(ch chan<- int) {
//!     for i := 2; ; i++ {
//!         ch <- i // Send 'i' to channel 'ch'.
//!     }
//! }
//!
//! // Copy the values from channel 'in' to channel 'out',
//! // removing those divisible by 'prime'.
//! func Filter(in <-chan int, out chan<- int, prime int) {
//!     for {
//!         i := <-in // Receive value from 'in'.
//!         if i%prime != 0 {
//!             out <- i // Send 'i' to 'out'.
//!         }
//!     }
//! }
//!
//! // The prime sieve: Daisy-chain Filter processes.
//! func main() {
//!     ch := make(chan int) // Create a new channel.
//!     go Generate(ch)      // Launch Generate goroutine.
//!     for i := 0; i < 100; i++ {
//!         prime := <-ch
//!         fmt.Println(prime)
//!         ch1 := make(chan int)
//!         go Filter(ch, ch1, prime)
//!         ch = ch1
//!     }
//! }
//! ```
//!
//! As in Go, the generator and the filters are left blocked on their sends when `main`
//! returns; the process exits with them.

use goro::chan::{self, Chan, Receiver, Sender};
use goro::go;

/// Sends the sequence 2, 3, 4, ... to `ch`.
fn generate(ch: Sender<u64>) {
    for i in 2.. {
        ch.send(i);
    }
}

/// Copies the values from `input` to `out`, removing those divisible by `prime`.
fn filter(input: Receiver<u64>, out: Sender<u64>, prime: u64) {
    loop {
        let i = input.recv().expect("nobody closes the chain");
        if !i.is_multiple_of(prime) {
            out.send(i);
        }
    }
}

#[goro::main]
fn main() {
    let n: usize = match std::env::args().nth(1) {
        Some(a) => a.parse().expect("usage: sieve [N]"),
        None => 100,
    };
    let mut ch: Chan<u64> = chan::make(0);
    let tx = ch.sender();
    go!(move || generate(tx));
    for _ in 0..n {
        let prime = ch.recv().unwrap();
        println!("{prime}");
        let ch1 = chan::make(0);
        let (input, out) = (ch.receiver(), ch1.sender());
        go!(move || filter(input, out, prime));
        ch = ch1;
    }
}
