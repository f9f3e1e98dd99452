//! Loom models of the runtime's two lock-free pieces: the P-local run queue ([`crate::runq`])
//! and the park word of a G ([`crate::parkstate`]).
//!
//! Under `--cfg loom`, [`crate::__loom`] swaps the atomics those modules use for loom's, so the
//! code under test is the production code, unchanged (only `RUNQ_SIZE` shrinks to 4 so that
//! the models reach the overflow path).
//!
//! Run with:
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
//!     cargo test -p goro-runtime --release --lib loom_
//! ```
//! The two larger run-queue models use a preemption bound so that they finish in seconds
//! (`LOOM_MAX_PREEMPTIONS` overrides it, e.g. `=100` explores them exhaustively, which takes
//! ~25 s for the one-thief model and minutes for the two-thief one); the others are explored
//! exhaustively.
//!
//! Besides the explicit assertions, the models lean on loom's causality checking: every
//! queued element and the G's "stack" are `loom::cell::UnsafeCell`s, written by whoever
//! runs them, so an element (or a G) handed to two threads without a happens-before edge
//! between them, or consumed before its creator's writes are visible, is reported by loom as
//! a data race.

use crate::parkstate::ParkState;
use crate::runq::{Local, RUNQ_SIZE, RunQueue};
use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::thread;
use std::sync::Arc as StdArc;
use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering as StdOrdering};

/// No preemption bound: the model is explored exhaustively.
const UNBOUNDED: Option<usize> = None;

/// A loom checker with at most `bound` preemptions per execution, unless
/// `LOOM_MAX_PREEMPTIONS` says otherwise.
fn builder(bound: Option<usize>) -> loom::model::Builder {
    let mut b = loom::model::Builder::new();
    if std::env::var_os("LOOM_MAX_PREEMPTIONS").is_none() {
        b.preemption_bound = bound;
    }
    b
}

/// Coverage counters kept across the executions of one model (plain std atomics: they are
/// outside the model and only ever read after `check` returns).
#[derive(Default)]
struct Coverage {
    executions: StdAtomicUsize,
    overflowed: StdAtomicUsize,
    stolen: StdAtomicUsize,
    runnext_stolen: StdAtomicUsize,
    runnext_by_owner: StdAtomicUsize,
    parked: StdAtomicUsize,
    resumed_by_g0: StdAtomicUsize,
    token_consumed: StdAtomicUsize,
}

impl Coverage {
    fn bump(c: &StdAtomicUsize) {
        c.fetch_add(1, StdOrdering::Relaxed);
    }
    fn get(c: &StdAtomicUsize) -> usize {
        c.load(StdOrdering::Relaxed)
    }
}

// ---------------------------------------------------------------------------------------------
// Run queue
// ---------------------------------------------------------------------------------------------

/// A queued element (a stand-in for a G). `runs` is written by whoever dequeues it, as running
/// a G writes its stack: loom reports two unsynchronised consumers, or a consumer that does
/// not see the creator's initialisation, as a causality violation.
struct Item {
    id: usize,
    runs: UnsafeCell<u32>,
}

/// "Runs" a dequeued element: marks it run once more and returns its identity.
fn consume(p: *mut Item) -> usize {
    assert!(!p.is_null(), "a queue handed out a null element");
    // SAFETY: every pointer in the queues comes from `Box::into_raw` in `new_items` and is only
    // freed by `check_and_free` after every thread of the execution has been joined, so it is
    // live here. Exclusive access to `runs` is what the queue protocol guarantees and what the
    // loom-tracked `with_mut` checks.
    unsafe {
        (*p).runs.with_mut(|r| *r += 1);
        (*p).id
    }
}

fn new_items(n: usize) -> Vec<*mut Item> {
    (0..n)
        .map(|id| {
            Box::into_raw(Box::new(Item {
                id,
                runs: UnsafeCell::new(0),
            }))
        })
        .collect()
}

/// After all threads are joined: every element was delivered exactly once, then frees them.
fn check_and_free(items: Vec<*mut Item>, mut delivered: Vec<usize>) {
    delivered.sort_unstable();
    let want: Vec<usize> = (0..items.len()).collect();
    assert_eq!(
        delivered, want,
        "every element must be delivered exactly once (got ids {delivered:?})"
    );
    for p in items {
        // SAFETY: `p` came from `Box::into_raw` in `new_items` and is freed only here, once;
        // all threads that could hold it have been joined, and it is no longer in any queue
        // (the queues were drained and every id was delivered exactly once).
        let item = unsafe { Box::from_raw(p) };
        // All threads are joined, so this read happens after every consumer's write.
        let runs = item.runs.with(|r| {
            // SAFETY: `with` hands out a valid pointer to the cell's contents, and the read
            // is ordered after every write by the joins.
            unsafe { *r }
        });
        assert_eq!(runs, 1, "element {} ran {runs} times", item.id);
    }
}

/// One step of the owner's script.
#[derive(Clone, Copy, Debug)]
enum Op {
    /// `put(items[i], next, ..)`.
    Put(usize, bool),
    /// `get(take_next)`.
    Get(bool),
}

/// The owner (the M holding the victim P): runs `script` against `q` through its owner's
/// handle, consuming what it gets and what overflows. Returns the identities it delivered.
fn owner(q: Local<'_, Item>, items: &[*mut Item], script: &[Op], cov: &Coverage) -> Vec<usize> {
    let mut got = Vec::new();
    for &op in script {
        match op {
            Op::Put(i, next) => {
                let mut spilled: Option<Vec<usize>> = None;
                // The element is non-null and in no other queue.
                q.put(items[i], next, |batch| {
                    assert_eq!(batch.len(), RUNQ_SIZE / 2 + 1, "overflow batch size");
                    spilled = Some(batch.iter().map(|&p| consume(p)).collect());
                });
                if let Some(s) = spilled {
                    Coverage::bump(&cov.overflowed);
                    got.extend(s);
                }
            }
            Op::Get(take_next) => {
                if let Some((p, from_next)) = q.get(take_next) {
                    if from_next {
                        Coverage::bump(&cov.runnext_by_owner);
                    }
                    got.push(consume(p));
                }
            }
        }
    }
    got
}

/// A thief (another P's M): `attempts` times, steals from `victim` into its own queue, runs
/// the element `steal_from` returns and drains its own queue.
fn thief(
    victim: &RunQueue<Item>,
    steal_runnext: bool,
    attempts: usize,
    cov: &Coverage,
) -> Vec<usize> {
    let mine = RunQueue::<Item>::new();
    // SAFETY: `mine` is owned by this thread alone (the test's stand-in for a P token).
    let mine = unsafe { mine.local() };
    let mut got = Vec::new();
    for _ in 0..attempts {
        // `victim` may be any queue.
        if let Some(p) = mine.steal_from(victim, steal_runnext) {
            Coverage::bump(&cov.stolen);
            got.push(consume(p));
        }
        let mut rest = Vec::new();
        mine.drain(&mut rest);
        got.extend(rest.into_iter().map(consume));
    }
    assert!(mine.is_empty(), "the thief's own queue is drained");
    got
}

/// Owner runs `script` on a fresh queue while `thieves` threads each make `attempts` steals;
/// then the owner drains what is left. Every element is delivered exactly once.
fn run_queue_model(
    n_items: usize,
    script: &'static [Op],
    thieves: usize,
    attempts: usize,
    steal_runnext: bool,
    bound: Option<usize>,
) -> StdArc<Coverage> {
    let cov = StdArc::new(Coverage::default());
    let c = cov.clone();
    builder(bound).check(move || {
        Coverage::bump(&c.executions);
        let items = new_items(n_items);
        let q = Arc::new(RunQueue::<Item>::new());
        let handles: Vec<_> = (0..thieves)
            .map(|_| {
                let (q, c) = (q.clone(), c.clone());
                thread::spawn(move || thief(&q, steal_runnext, attempts, &c))
            })
            .collect();
        // SAFETY: this thread is `q`'s only owner for the whole execution (the thieves only
        // `grab`): the test's stand-in for the P token.
        let ql = unsafe { q.local() };
        let mut delivered = owner(ql, &items, script, &c);
        for h in handles {
            delivered.extend(h.join().expect("thief panicked"));
        }
        let mut rest = Vec::new();
        ql.drain(&mut rest);
        delivered.extend(rest.into_iter().map(consume));
        assert!(q.is_empty(), "drained queue is empty");
        check_and_free(items, delivered);
    });
    eprintln!(
        "executions {}, overflowed in {}, steals {}, runnext taken by owner {}",
        Coverage::get(&cov.executions),
        Coverage::get(&cov.overflowed),
        Coverage::get(&cov.stolen),
        Coverage::get(&cov.runnext_by_owner),
    );
    cov
}

/// Fills the runnext slot and the ring, then overflows through a runnext displacement (the
/// element kicked out of runnext finds the ring full), and takes from both ends. (The plain
/// put overflow is in `TWO_THIEVES_SCRIPT`.) Comments show the queue when nobody steals.
const OVERFLOW_SCRIPT: &[Op] = &[
    Op::Put(0, true),  // runnext 0
    Op::Put(1, false), // ring 1
    Op::Put(2, false), // ring 1 2
    Op::Put(3, false), // ring 1 2 3
    Op::Put(4, false), // ring 1 2 3 4 (full)
    Op::Put(5, true),  // runnext 5; 0 displaced into the full ring: overflow [1 2 0], ring 3 4
    Op::Put(6, false), // ring 3 4 6
    Op::Get(false),    // ring first: 3
    Op::Get(true),     // runnext: 5
];

/// Owner puts (with runnext and overflow) and gets while one thief steals and drains.
#[test]
fn loom_runq_one_thief_with_overflow() {
    let cov = run_queue_model(7, OVERFLOW_SCRIPT, 1, 2, false, Some(5));
    assert!(
        Coverage::get(&cov.overflowed) > 0,
        "the model must reach the overflow path"
    );
    assert!(
        Coverage::get(&cov.stolen) > 0,
        "the model must reach a successful steal"
    );
}

/// A shorter script: fills the ring and overflows through a plain put.
const TWO_THIEVES_SCRIPT: &[Op] = &[
    Op::Put(0, false), // ring 0
    Op::Put(1, false), // ring 0 1
    Op::Put(2, true),  // runnext 2
    Op::Put(3, false), // ring 0 1 3
    Op::Put(4, false), // ring 0 1 3 4 (full)
    Op::Put(5, false), // overflow [0 1 5], ring 3 4
    Op::Get(true),     // runnext: 2
];

/// Owner puts and gets while two thieves steal (including runnext) and drain concurrently.
#[test]
fn loom_runq_two_thieves() {
    let cov = run_queue_model(6, TWO_THIEVES_SCRIPT, 2, 1, true, Some(3));
    assert!(
        Coverage::get(&cov.overflowed) > 0,
        "the model must reach the overflow path"
    );
    assert!(
        Coverage::get(&cov.stolen) > 0,
        "the model must reach a successful steal"
    );
}

/// The runnext slot contended: the owner's `get(true)` races a thief allowed to steal runnext,
/// and a second `put(next)` displaces an element into the ring meanwhile.
const RUNNEXT_SCRIPT: &[Op] = &[
    Op::Put(0, true),
    Op::Get(true),
    Op::Put(1, true),
    Op::Put(2, true), // 1 displaced to the ring
    Op::Get(true),
];

#[test]
fn loom_runq_steal_runnext_races_owner_get() {
    let cov = StdArc::new(Coverage::default());
    let c = cov.clone();
    builder(UNBOUNDED).check(move || {
        Coverage::bump(&c.executions);
        let items = new_items(3);
        let q = Arc::new(RunQueue::<Item>::new());
        let t = {
            let (q, c) = (q.clone(), c.clone());
            thread::spawn(move || {
                let mut got = Vec::new();
                for _ in 0..2 {
                    let mut batch = [std::ptr::null_mut(); RUNQ_SIZE / 2];
                    let n = q.grab(&mut batch, true);
                    for id in batch[..n].iter().map(|&p| consume(p)) {
                        // Items 0 and 2 are only ever in runnext (see RUNNEXT_SCRIPT).
                        if id != 1 {
                            Coverage::bump(&c.runnext_stolen);
                        }
                        got.push(id);
                    }
                }
                got
            })
        };
        // SAFETY: as in `run_queue_model`: this thread is `q`'s only owner.
        let ql = unsafe { q.local() };
        let mut delivered = owner(ql, &items, RUNNEXT_SCRIPT, &c);
        delivered.extend(t.join().expect("thief panicked"));
        let mut rest = Vec::new();
        ql.drain(&mut rest);
        delivered.extend(rest.into_iter().map(consume));
        check_and_free(items, delivered);
    });
    eprintln!(
        "executions {}, runnext stolen {}, runnext taken by owner {}",
        Coverage::get(&cov.executions),
        Coverage::get(&cov.runnext_stolen),
        Coverage::get(&cov.runnext_by_owner),
    );
    assert!(
        Coverage::get(&cov.runnext_stolen) > 0,
        "the thief must win runnext sometimes"
    );
    assert!(
        Coverage::get(&cov.runnext_by_owner) > 0,
        "the owner must win runnext sometimes"
    );
}

/// Same race through `steal_from` (what the scheduler calls), with the thief's own queue.
#[test]
fn loom_runq_steal_from_runnext_races_owner_get() {
    let cov = run_queue_model(3, RUNNEXT_SCRIPT, 1, 2, true, UNBOUNDED);
    assert!(
        Coverage::get(&cov.stolen) > 0,
        "the model must reach a successful steal"
    );
    assert!(
        Coverage::get(&cov.runnext_by_owner) > 0,
        "the owner must win runnext sometimes"
    );
}

// ---------------------------------------------------------------------------------------------
// Park protocol
// ---------------------------------------------------------------------------------------------

/// A G with its park word, the flag g0 sets once the G's context is saved, and its "stack":
/// written by whoever runs the G, so loom flags a G resumed on two threads at once (or resumed
/// before the thread that ran it last is done with it).
struct G {
    park: ParkState,
    saved: AtomicBool,
    stack: UnsafeCell<u32>,
    /// How many times the G was resumed after parking began (must end at exactly 1 when one
    /// valid unpark is delivered).
    resumed: AtomicUsize,
}

impl G {
    fn new() -> G {
        G {
            park: ParkState::new(),
            saved: AtomicBool::new(false),
            stack: UnsafeCell::new(0),
            resumed: AtomicUsize::new(0),
        }
    }

    /// The G runs (touches its stack).
    fn run(&self) {
        self.stack.with_mut(|s| {
            // SAFETY: `with_mut` hands out a valid pointer; exclusivity is what loom checks.
            unsafe { *s += 1 }
        });
    }

    fn resume(&self) {
        self.resumed.fetch_add(1, Ordering::Relaxed);
        self.run();
    }
}

/// How the G side's park ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// `try_consume` found a token: no switch at all.
    TokenConsumed,
    /// g0's `commit` found a token and resumed the G itself.
    ResumedByG0,
    /// `commit` published the G as parked: an unparker must ready it.
    Parked,
}

/// The G and then its g0, on the current loom thread: the two-half park.
fn park_g(g: &G, cov: &Coverage) -> Outcome {
    g.run();
    if g.park.try_consume() {
        Coverage::bump(&cov.token_consumed);
        g.resume();
        return Outcome::TokenConsumed;
    }
    // Switch to g0: the G's context is saved (Relaxed on purpose: only the park word's
    // ordering may publish it to the unparker).
    g.saved.store(true, Ordering::Relaxed);
    if g.park.commit() {
        Coverage::bump(&cov.parked);
        // Parked: g0 goes on to schedule other work and must not touch the G again.
        Outcome::Parked
    } else {
        Coverage::bump(&cov.resumed_by_g0);
        g.resume();
        Outcome::ResumedByG0
    }
}

/// An unparker holding a `Waiter` for generation `generation`. Returns whether it readied G.
fn unpark_g(g: &G, generation: u64) -> bool {
    if g.park.unpark(generation) {
        assert!(
            g.saved.load(Ordering::Relaxed),
            "G readied before its context was saved"
        );
        // Make it runnable: another M resumes it.
        g.resume();
        true
    } else {
        false
    }
}

fn report_park(cov: &Coverage) {
    eprintln!(
        "executions {}, token consumed by the G {}, resumed by g0 {}, parked {}",
        Coverage::get(&cov.executions),
        Coverage::get(&cov.token_consumed),
        Coverage::get(&cov.resumed_by_g0),
        Coverage::get(&cov.parked),
    );
}

/// Spawns the G (with its g0) on its own loom thread.
///
/// The G runs on a spawned thread and the unparkers on the model's main thread (plus spawned
/// ones) because loom 0.7's DPOR only compares a thread's *pending* operation with the last
/// access to an object, and a thread that has not run yet has none: with the G on the main
/// thread and the unparker spawned, the execution "unpark completes, then `try_consume` takes
/// the token" was never explored (0 of 7 executions). The coverage assertions at the end of
/// each model make sure every outcome is reached.
fn spawn_g(g: &Arc<G>, cov: &StdArc<Coverage>) -> thread::JoinHandle<Outcome> {
    let (g, cov) = (g.clone(), cov.clone());
    thread::spawn(move || park_g(&g, &cov))
}

/// One G parking, one unparker: exactly one wake path, never lost, never early.
#[test]
fn loom_park_one_unparker() {
    let cov = StdArc::new(Coverage::default());
    let c = cov.clone();
    loom::model(move || {
        Coverage::bump(&c.executions);
        let g = Arc::new(G::new());
        let gt = spawn_g(&g, &c);
        let readied = unpark_g(&g, 0);
        let how = gt.join().expect("G panicked");
        assert_eq!(
            readied,
            how == Outcome::Parked,
            "the unparker readies the G exactly when it parked ({how:?})"
        );
        assert_eq!(
            g.resumed.load(Ordering::Relaxed),
            1,
            "resumed exactly once ({how:?})"
        );
        assert!(!g.park.try_consume(), "no token left behind ({how:?})");
    });
    report_park(&cov);
    assert!(
        Coverage::get(&cov.token_consumed) > 0,
        "outcome not explored: token consumed"
    );
    assert!(
        Coverage::get(&cov.resumed_by_g0) > 0,
        "outcome not explored: resumed by g0"
    );
    assert!(
        Coverage::get(&cov.parked) > 0,
        "outcome not explored: parked"
    );
}

/// Two unparkers with the same (current) generation: exactly one of them readies the G if it
/// parked, none if it did not, and the G is resumed exactly once either way.
#[test]
fn loom_park_two_unparkers() {
    let cov = StdArc::new(Coverage::default());
    let wins = StdArc::new([StdAtomicUsize::new(0), StdAtomicUsize::new(0)]);
    let (c, w) = (cov.clone(), wins.clone());
    loom::model(move || {
        Coverage::bump(&c.executions);
        let g = Arc::new(G::new());
        let gt = spawn_g(&g, &c);
        let other = {
            let g = g.clone();
            thread::spawn(move || unpark_g(&g, 0))
        };
        let mine = unpark_g(&g, 0);
        let theirs = other.join().expect("unparker panicked");
        let how = gt.join().expect("G panicked");
        let want = usize::from(how == Outcome::Parked);
        assert_eq!(
            usize::from(mine) + usize::from(theirs),
            want,
            "unparkers that readied the G ({how:?})"
        );
        assert_eq!(
            g.resumed.load(Ordering::Relaxed),
            1,
            "resumed exactly once ({how:?})"
        );
        if mine {
            Coverage::bump(&w[0]);
        }
        if theirs {
            Coverage::bump(&w[1]);
        }
        // The losing unparker may leave a token once the G is already resumed: that is the
        // documented semantics (the G's next park returns at once), so no assertion on it.
    });
    report_park(&cov);
    eprintln!(
        "readied by the main-thread unparker {}, by the spawned one {}",
        Coverage::get(&wins[0]),
        Coverage::get(&wins[1])
    );
    assert!(
        Coverage::get(&cov.token_consumed) > 0,
        "outcome not explored: token consumed"
    );
    assert!(
        Coverage::get(&cov.resumed_by_g0) > 0,
        "outcome not explored: resumed by g0"
    );
    assert!(
        Coverage::get(&wins[0]) > 0 && Coverage::get(&wins[1]) > 0,
        "each unparker wins"
    );
}

/// A stale `Waiter` (generation 0) racing a current one (generation 1) after the record was
/// reused: the stale unpark never readies the G nor leaves it a token; the current one behaves
/// as in the single-unparker model.
#[test]
fn loom_park_stale_generation_with_current_unparker() {
    let cov = StdArc::new(Coverage::default());
    let c = cov.clone();
    loom::model(move || {
        Coverage::bump(&c.executions);
        let g = Arc::new(G::new());
        g.park.next_generation();
        assert_eq!(g.park.generation(), 1);
        let gt = spawn_g(&g, &c);
        let stale = {
            let g = g.clone();
            thread::spawn(move || g.park.unpark(0))
        };
        let readied = unpark_g(&g, 1);
        let how = gt.join().expect("G panicked");
        assert!(
            !stale.join().expect("stale unparker panicked"),
            "a stale unpark readied the G"
        );
        assert_eq!(readied, how == Outcome::Parked, "({how:?})");
        assert_eq!(
            g.resumed.load(Ordering::Relaxed),
            1,
            "resumed exactly once ({how:?})"
        );
        assert!(!g.park.try_consume(), "no token left behind ({how:?})");
    });
    report_park(&cov);
    assert!(
        Coverage::get(&cov.token_consumed) > 0,
        "outcome not explored: token consumed"
    );
    assert!(
        Coverage::get(&cov.resumed_by_g0) > 0,
        "outcome not explored: resumed by g0"
    );
    assert!(
        Coverage::get(&cov.parked) > 0,
        "outcome not explored: parked"
    );
}

/// sysmon trimming a parked G's stack ([`crate::stacktrim`]: PARKED -> TRIMMING -> PARKED)
/// while the G parks and an unparker readies it. Three threads: the G's g0 saves its
/// "context" (a `loom` cell) and commits the park; sysmon's `begin_trim` must then see that
/// context (loom reports an unordered read as a race) and writes the "stack" (the released
/// pages); the unparker, once it wins the G, reads the stack as the resuming M would, and must
/// see the trim complete. The unparker never wins the G while the trim holds it.
#[test]
fn loom_park_trim_races_an_unpark() {
    let trimmed_first = StdArc::new(StdAtomicUsize::new(0));
    let not_trimmed = StdArc::new(StdAtomicUsize::new(0));
    let (tf, nt) = (trimmed_first.clone(), not_trimmed.clone());
    loom::model(move || {
        let park = Arc::new(ParkState::new());
        let ctx = Arc::new(UnsafeCell::new(0u32));
        let stack = Arc::new(UnsafeCell::new(0u32));
        let g0 = {
            let (park, ctx) = (park.clone(), ctx.clone());
            thread::spawn(move || {
                // The switch saved the context; then the park is published (false: an
                // unpark came first and the G resumes at once, never parked).
                // SAFETY: loom's cell pointer is valid; loom checks the access's ordering.
                ctx.with_mut(|c| unsafe { *c = 1 });
                park.commit()
            })
        };
        let trimmer = {
            let (park, ctx, stack) = (park.clone(), ctx.clone(), stack.clone());
            thread::spawn(move || {
                if !park.begin_trim() {
                    return false;
                }
                // SAFETY: loom's cell pointer is valid for the closure; loom itself checks that
                // the read is ordered after the park's write (the model's point).
                let saved = ctx.with(|c| unsafe { *c });
                assert_eq!(saved, 1, "the trim read a context the park had not saved");
                // SAFETY: loom's cell pointer is valid for the closure; loom checks the
                // write's ordering against the resuming M's read.
                stack.with_mut(|s| unsafe { *s = 7 });
                park.end_trim();
                true
            })
        };
        let readied = park.unpark(0);
        let parked = g0.join().expect("g0 panicked");
        let trimmed = trimmer.join().expect("trimmer panicked");
        assert_eq!(
            readied, parked,
            "exactly one of the unpark and the commit resumes the G"
        );
        assert!(!trimmed || parked, "a G that never parked was trimmed");
        if readied {
            // As the M that resumes the G: the trim, if any, is complete and visible.
            // SAFETY: loom's cell pointer is valid for the closure; loom checks that the
            // read is ordered after the trim's write.
            let seen = stack.with(|s| unsafe { *s });
            assert_eq!(
                seen,
                if trimmed { 7 } else { 0 },
                "the resumer saw a partial trim"
            );
        }
        if trimmed {
            tf.fetch_add(1, StdOrdering::Relaxed);
        } else {
            nt.fetch_add(1, StdOrdering::Relaxed);
        }
    });
    assert!(
        trimmed_first.load(StdOrdering::Relaxed) > 0,
        "outcome not explored: trimmed"
    );
    assert!(
        not_trimmed.load(StdOrdering::Relaxed) > 0,
        "outcome not explored: not trimmed"
    );
}

/// Only a stale `Waiter` (generation 0), racing the G of generation 1 parking: the G stays
/// parked (no token from the stale unpark), and a current unpark afterwards still readies it.
#[test]
fn loom_park_stale_generation_alone() {
    let cov = StdArc::new(Coverage::default());
    let c = cov.clone();
    loom::model(move || {
        Coverage::bump(&c.executions);
        let g = Arc::new(G::new());
        g.park.next_generation();
        let gt = spawn_g(&g, &c);
        assert!(!g.park.unpark(0), "a stale unpark readied the G");
        let how = gt.join().expect("G panicked");
        assert_eq!(how, Outcome::Parked, "a stale unpark woke the G");
        assert_eq!(
            g.resumed.load(Ordering::Relaxed),
            0,
            "nobody resumed the parked G"
        );
        assert!(
            unpark_g(&g, 1),
            "the parked G is readied by a current unpark"
        );
    });
    report_park(&cov);
}

/// A stale `Waiter` (generation 0) that runs *after* the record's reuse in time but without
/// synchronising with it (it only saw a relaxed flag set after `next_generation`), so its
/// first load of the park word may still return the old generation's EMPTY word. Its CAS
/// must then fail on the new word and give up; the G of generation 1 stays parked.
#[test]
fn loom_park_stale_waker_sees_old_generation() {
    let cov = StdArc::new(Coverage::default());
    let c = cov.clone();
    loom::model(move || {
        Coverage::bump(&c.executions);
        let g = Arc::new(G::new());
        let reused = Arc::new(AtomicBool::new(false));
        let stale = {
            let (g, reused) = (g.clone(), reused.clone());
            thread::spawn(move || {
                while !reused.load(Ordering::Relaxed) {
                    thread::yield_now();
                }
                g.park.unpark(0)
            })
        };
        // The previous goroutine has exited; the record is reused.
        g.park.next_generation();
        reused.store(true, Ordering::Relaxed);
        let how = park_g(&g, &c);
        assert!(
            !stale.join().expect("stale unparker panicked"),
            "a stale unpark readied"
        );
        assert_eq!(
            how,
            Outcome::Parked,
            "a stale unpark woke the new goroutine"
        );
        assert_eq!(
            g.resumed.load(Ordering::Relaxed),
            0,
            "nobody resumed the parked G"
        );
        assert!(
            unpark_g(&g, 1),
            "the parked G is readied by a current unpark"
        );
    });
    report_park(&cov);
}

/// A stale `Waiter` for the previous goroutine on this G record races the record's reuse
/// (`next_generation`) itself, then the new goroutine's park. With no current unpark, the new
/// goroutine must stay parked. (`next_generation` is a swap so that the stale CAS is ordered
/// before or after it; with a plain store loom could not order the two.)
#[test]
fn loom_park_stale_unpark_across_reuse() {
    let cov = StdArc::new(Coverage::default());
    let c = cov.clone();
    loom::model(move || {
        Coverage::bump(&c.executions);
        let g = Arc::new(G::new());
        let stale = {
            let g = g.clone();
            thread::spawn(move || g.park.unpark(0))
        };
        // The previous goroutine has exited; the record is reused.
        g.park.next_generation();
        let how = park_g(&g, &c);
        assert_eq!(
            how,
            Outcome::Parked,
            "a stale unpark woke the new goroutine"
        );
        assert!(
            !stale.join().expect("stale unparker panicked"),
            "a stale unpark readied"
        );
        assert_eq!(
            g.resumed.load(Ordering::Relaxed),
            0,
            "nobody resumed the parked G"
        );
        assert!(
            unpark_g(&g, 1),
            "the parked G is readied by a current unpark"
        );
    });
    report_park(&cov);
}

// ---- the netpoller's wait slot (pollslot.rs) ------------------------------------------------

mod pollslot_models {
    use crate::pollslot::{PollSlot, Prepared, Woken};
    use loom::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use loom::sync::{Arc, Notify};
    use loom::thread;

    /// A sleeper: the park word of the waiting goroutine, modelled as loom's `Notify` (a
    /// sticky token: a notify before the wait is not lost, like `Waiter::unpark` before
    /// `park`). A lost wakeup shows up as a deadlock, which loom reports.
    type Sleeper = Arc<Notify>;

    /// What the owner of the slot does for one operation that got `EAGAIN`: the loop of
    /// `PollDesc::wait_g`, with the closing flag and a deadline word (0 = none, 1 = expired).
    /// Returns Ok(()) when the fd may be ready, Err("closed" / "timeout") otherwise.
    fn wait(
        slot: &PollSlot<Sleeper>,
        park: &Sleeper,
        closing: &AtomicBool,
        deadline: &AtomicU64,
    ) -> Result<(), &'static str> {
        loop {
            if slot.take_ready() {
                return Ok(());
            }
            if closing.load(Ordering::SeqCst) {
                return Err("closed");
            }
            if deadline.load(Ordering::SeqCst) == 1 {
                return Err("timeout");
            }
            if slot.prepare(park.clone()) == Prepared::Ready {
                return Ok(());
            }
            if closing.load(Ordering::SeqCst) || deadline.load(Ordering::SeqCst) == 1 {
                if slot.withdraw() == Woken::Ready {
                    return Ok(());
                }
                continue;
            }
            park.wait();
            if slot.withdraw() == Woken::Ready {
                return Ok(());
            }
        }
    }

    fn setup() -> (
        Arc<PollSlot<Sleeper>>,
        Sleeper,
        Arc<AtomicBool>,
        Arc<AtomicU64>,
    ) {
        (
            Arc::new(PollSlot::new()),
            Arc::new(Notify::new()),
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU64::new(0)),
        )
    }

    /// Readiness reported while the owner gets ready to wait is never lost: the owner
    /// returns Ok whether the event came before its `prepare`, between, or after its park.
    #[test]
    fn loom_pollslot_readiness_is_never_lost() {
        super::builder(super::UNBOUNDED).check(|| {
            let (slot, park, closing, deadline) = setup();
            let s2 = slot.clone();
            let poller = thread::spawn(move || {
                if let Some(s) = s2.set_ready() {
                    s.notify();
                }
            });
            assert_eq!(wait(&slot, &park, &closing, &deadline), Ok(()));
            poller.join().unwrap();
            assert!(!slot.take_ready(), "one readiness, consumed once");
        });
    }

    /// A close racing with a wait always wakes it, and the owner reports "closed" (or Ok if
    /// readiness came too), never sleeps on.
    #[test]
    fn loom_pollslot_close_wakes_the_waiter() {
        super::builder(super::UNBOUNDED).check(|| {
            let (slot, park, closing, deadline) = setup();
            let (s2, c2) = (slot.clone(), closing.clone());
            let closer = thread::spawn(move || {
                c2.store(true, Ordering::SeqCst);
                if let Some(s) = s2.wake() {
                    s.notify();
                }
            });
            assert_eq!(wait(&slot, &park, &closing, &deadline), Err("closed"));
            closer.join().unwrap();
        });
    }

    /// A deadline moved into the past while the owner waits wakes it with a timeout.
    #[test]
    fn loom_pollslot_deadline_change_wakes_the_waiter() {
        super::builder(super::UNBOUNDED).check(|| {
            let (slot, park, closing, deadline) = setup();
            let (s2, d2) = (slot.clone(), deadline.clone());
            let setter = thread::spawn(move || {
                d2.store(1, Ordering::SeqCst);
                if let Some(s) = s2.wake() {
                    s.notify();
                }
            });
            assert_eq!(wait(&slot, &park, &closing, &deadline), Err("timeout"));
            setter.join().unwrap();
        });
    }

    /// Two wakers (a poller reporting readiness, a close) race for one published sleeper:
    /// exactly one takes it (the cell is a loom UnsafeCell, so a double take is a reported
    /// data race), and the readiness is kept either way.
    #[test]
    fn loom_pollslot_two_wakers_one_sleeper() {
        super::builder(super::UNBOUNDED).check(|| {
            let (slot, park, _, _) = setup();
            assert_eq!(slot.prepare(park.clone()), Prepared::Waiting);
            let spawn_waker = |ready: bool| {
                let s = slot.clone();
                thread::spawn(move || {
                    let got = if ready { s.set_ready() } else { s.wake() };
                    got.map(|n| n.notify()).is_some()
                })
            };
            let (a, b) = (spawn_waker(true), spawn_waker(false));
            let took = [a.join().unwrap(), b.join().unwrap()];
            assert_eq!(
                took.iter().filter(|t| **t).count(),
                1,
                "one sleeper, one taker"
            );
            park.wait();
            match slot.withdraw() {
                Woken::Ready => {}
                Woken::Nudged => assert!(slot.take_ready(), "readiness left for the owner"),
                Woken::Withdrawn => panic!("a waker took the sleeper"),
            }
        });
    }

    /// A sleeper that withdraws on its own (a timer fired: modelled as a park that returns at
    /// once) while a poller claims it: either the withdraw takes it back, or the poller takes
    /// it and leaves readiness; the owner's next wait then returns at once.
    #[test]
    fn loom_pollslot_withdraw_races_a_waker() {
        super::builder(super::UNBOUNDED).check(|| {
            let (slot, park, _, _) = setup();
            assert_eq!(slot.prepare(park.clone()), Prepared::Waiting);
            let s2 = slot.clone();
            let poller = thread::spawn(move || {
                if let Some(s) = s2.set_ready() {
                    s.notify();
                }
            });
            let w = slot.withdraw();
            poller.join().unwrap();
            match w {
                Woken::Withdrawn => assert!(slot.take_ready(), "the readiness waits in the slot"),
                Woken::Ready => assert!(!slot.take_ready()),
                Woken::Nudged => panic!("set_ready never leaves EMPTY after taking a sleeper"),
            }
        });
    }
}
