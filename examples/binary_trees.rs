//! Equivalent Binary Trees: walk two trees in goroutines and compare what they send.
//!
//! A port of the Go tour's exercise (go.dev/tour/concurrency/7 and 8), with a solution in
//! the usual style. `tree.New(k)` builds a random binary search tree holding k, 2k, ...,
//! 10k; its shape depends on `rand.Perm`. So that the output is deterministic, the `tree`
//! module below replaces Go's `math/rand` with a seeded xorshift generator (and ports
//! `rand.Perm`'s algorithm): different trees still come out of each `tree::new` call.
//!
//! ```go
//! // Walk walks the tree t sending all values from the tree to the channel ch.
//! func Walk(t *tree.Tree, ch chan int) {
//!     var walk func(t *tree.Tree)
//!     walk = func(t *tree.Tree) {
//!         if t == nil { return }
//!         walk(t.Left)
//!         ch <- t.Value
//!         walk(t.Right)
//!     }
//!     walk(t)
//!     close(ch)
//! }
//!
//! // Same determines whether the trees t1 and t2 contain the same values.
//! func Same(t1, t2 *tree.Tree) bool {
//!     c1, c2 := make(chan int), make(chan int)
//!     go Walk(t1, c1)
//!     go Walk(t2, c2)
//!     for {
//!         v1, ok1 := <-c1
//!         v2, ok2 := <-c2
//!         if !ok1 || !ok2 { return ok1 == ok2 }
//!         if v1 != v2 { return false }
//!     }
//! }
//!
//! func main() {
//!     fmt.Println(tree.New(1))
//!     ch := make(chan int)
//!     go Walk(tree.New(1), ch)
//!     for v := range ch { fmt.Println(v) }
//!     fmt.Println(Same(tree.New(1), tree.New(1)))
//!     fmt.Println(Same(tree.New(1), tree.New(2)))
//! }
//! ```
//!
//! As in the tour's solution, a `Same` that returns `false` early leaves the two walkers
//! blocked on their sends.

use goro::chan::{self, Chan};
use goro::go;

/// golang.org/x/tour/tree, with a deterministic random source.
mod tree {
    use std::fmt;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A binary tree of ints.
    pub struct Tree {
        pub left: Option<Box<Tree>>,
        pub value: i64,
        pub right: Option<Box<Tree>>,
    }

    /// The generator's state (xorshift64*), seeded with a fixed value.
    static STATE: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);

    /// A pseudo-random number in `0..n` (Go's `rand.Intn`).
    fn intn(n: usize) -> usize {
        let mut x = STATE.load(Ordering::Relaxed);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        STATE.store(x, Ordering::Relaxed);
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    }

    /// A pseudo-random permutation of `0..n` (Go's `rand.Perm`, same algorithm).
    fn perm(n: usize) -> Vec<usize> {
        let mut m = vec![0; n];
        for i in 0..n {
            let j = intn(i + 1);
            m[i] = m[j];
            m[j] = i;
        }
        m
    }

    /// A new, random binary tree holding the values k, 2k, ..., 10k.
    pub fn new(k: i64) -> Box<Tree> {
        let mut t = None;
        for v in perm(10) {
            t = Some(insert(t, (1 + v as i64) * k));
        }
        t.expect("ten values were inserted")
    }

    fn insert(t: Option<Box<Tree>>, v: i64) -> Box<Tree> {
        match t {
            None => Box::new(Tree {
                left: None,
                value: v,
                right: None,
            }),
            Some(mut t) => {
                if v < t.value {
                    t.left = Some(insert(t.left.take(), v));
                } else {
                    t.right = Some(insert(t.right.take(), v));
                }
                t
            }
        }
    }

    impl fmt::Display for Tree {
        /// Go's `(*Tree).String`: `((1 (2)) 3 (4))`.
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "(")?;
            if let Some(l) = &self.left {
                write!(f, "{l} ")?;
            }
            write!(f, "{}", self.value)?;
            if let Some(r) = &self.right {
                write!(f, " {r}")?;
            }
            write!(f, ")")
        }
    }
}

use tree::Tree;

/// Walks the tree `t`, sending all its values, in order, to `ch`; then closes `ch`.
#[allow(non_snake_case)]
fn Walk(t: Box<Tree>, ch: Chan<i64>) {
    fn walk(t: &Option<Box<Tree>>, ch: &Chan<i64>) {
        let Some(t) = t else { return };
        walk(&t.left, ch);
        ch.send(t.value);
        walk(&t.right, ch);
    }
    walk(&Some(t), &ch);
    ch.close();
}

/// Whether the trees `t1` and `t2` contain the same values.
#[allow(non_snake_case)]
fn Same(t1: Box<Tree>, t2: Box<Tree>) -> bool {
    let (c1, c2) = (chan::make(0), chan::make(0));
    let (w1, w2) = (c1.clone(), c2.clone());
    go!(move || Walk(t1, w1));
    go!(move || Walk(t2, w2));
    loop {
        let (v1, v2) = (c1.recv(), c2.recv());
        match (v1, v2) {
            (Some(v1), Some(v2)) if v1 == v2 => continue,
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[goro::main]
fn main() {
    println!("{}", tree::new(1));
    let ch = chan::make(0);
    let tx = ch.clone();
    let t = tree::new(1);
    go!(move || Walk(t, tx));
    for v in &ch {
        println!("{v}");
    }
    println!("{}", Same(tree::new(1), tree::new(1)));
    println!("{}", Same(tree::new(1), tree::new(2)));
}
