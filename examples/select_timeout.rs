//! `select` with a timeout, and with `default` for non-blocking sends and receives.
//!
//! A port of Go by Example's "Timeouts" and "Non-Blocking Channel Operations", with the
//! durations scaled down (the slow result takes 500 ms against a 20 ms timeout, the fast
//! one 20 ms against a 3 s timeout), so that it runs in a few tens of milliseconds.
//!
//! ```go
//! // Timeouts
//! func main() {
//!     c1 := make(chan string, 1)
//!     go func() {
//!         time.Sleep(2 * time.Second)
//!         c1 <- "result 1"
//!     }()
//!     select {
//!     case res := <-c1:
//!         fmt.Println(res)
//!     case <-time.After(1 * time.Second):
//!         fmt.Println("timeout 1")
//!     }
//!
//!     c2 := make(chan string, 1)
//!     go func() {
//!         time.Sleep(2 * time.Second)
//!         c2 <- "result 2"
//!     }()
//!     select {
//!     case res := <-c2:
//!         fmt.Println(res)
//!     case <-time.After(3 * time.Second):
//!         fmt.Println("timeout 2")
//!     }
//! }
//!
//! // Non-Blocking Channel Operations
//! func main() {
//!     messages := make(chan string)
//!     signals := make(chan bool)
//!
//!     select {
//!     case msg := <-messages:
//!         fmt.Println("received message", msg)
//!     default:
//!         fmt.Println("no message received")
//!     }
//!
//!     msg := "hi"
//!     select {
//!     case messages <- msg:
//!         fmt.Println("sent message", msg)
//!     default:
//!         fmt.Println("no message sent")
//!     }
//!
//!     select {
//!     case msg := <-messages:
//!         fmt.Println("received message", msg)
//!     case sig := <-signals:
//!         fmt.Println("received signal", sig)
//!     default:
//!         fmt.Println("no activity")
//!     }
//! }
//! ```
//!
//! The first timeout uses a `time.After` channel as a select arm, as Go does; the second
//! uses `select!`'s own `timeout(d)` arm, which needs no channel.

use goro::time::{self, Duration};
use goro::{chan, go, select};

fn timeouts() {
    let c1 = chan::make::<&str>(1);
    go!(c1 => {
        time::sleep(Duration::from_millis(500));
        c1.send("result 1");
    });
    select! {
        res = <-c1 => println!("{}", res.unwrap()),
        <-time::after(Duration::from_millis(20)) => println!("timeout 1"),
    }

    let c2 = chan::make::<&str>(1);
    go!(c2 => {
        time::sleep(Duration::from_millis(20));
        c2.send("result 2");
    });
    select! {
        res = <-c2 => println!("{}", res.unwrap()),
        timeout(Duration::from_secs(3)) => println!("timeout 2"),
    }
}

fn non_blocking() {
    let messages = chan::make::<&str>(0);
    let signals = chan::make::<bool>(0);

    select! {
        msg = <-messages => println!("received message {}", msg.unwrap()),
        default => println!("no message received"),
    }

    let msg = "hi";
    select! {
        messages <- msg => println!("sent message {msg}"),
        default => println!("no message sent"),
    }

    select! {
        msg = <-messages => println!("received message {}", msg.unwrap()),
        sig = <-signals => println!("received signal {}", sig.unwrap()),
        default => println!("no activity"),
    }
}

#[goro::main]
fn main() {
    timeouts();
    non_blocking();
}
