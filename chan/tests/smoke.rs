#[path = "../../runtime/tests/common/mod.rs"]
mod common;

use std::time::Duration;

#[test]
fn unbuffered_pingpong_between_goroutines() {
    let (a, b) = (chan::make::<u64>(0), chan::make::<u64>(0));
    let (a2, b2) = (a.clone(), b.clone());
    let h = runtime::spawn(move || {
        while let Some(v) = a2.recv() {
            b2.send(v + 1);
        }
    });
    let sum = runtime::block_on(move || {
        let mut s = 0;
        for i in 0..10_000 {
            a.send(i);
            s += b.recv().unwrap() - i;
        }
        a.close();
        s
    });
    h.join().unwrap();
    assert_eq!(sum, 10_000);
}

#[test]
fn buffered_spsc_from_threads_and_goroutines() {
    let ch = chan::make::<u64>(16);
    let tx = ch.clone();
    let t = std::thread::spawn(move || {
        for i in 0..100_000 {
            tx.send(i);
        }
        tx.close();
    });
    let sum = runtime::block_on(move || ch.iter().sum::<u64>());
    t.join().unwrap();
    assert_eq!(sum, 99_999 * 100_000 / 2);
}

#[test]
fn select_over_buffered_and_unbuffered() {
    let a = chan::make::<u32>(0);
    let b = chan::make::<u32>(4);
    let (a2, b2) = (a.clone(), b.clone());
    runtime::go!(move || {
        for i in 0..1000 {
            if i % 2 == 0 { a2.send(i) } else { b2.send(i) }
        }
    });
    let got = runtime::block_on(move || {
        let mut n = 0;
        while n < 1000 {
            let mut sel = chan::Select::new();
            let ia = sel.recv(&a);
            let ib = sel.recv(&b);
            sel.timeout(Duration::from_secs(5));
            match sel.wait() {
                chan::Selected::Case(i) if i == ia => {
                    sel.recv_value::<u32>(ia).unwrap();
                }
                chan::Selected::Case(i) if i == ib => {
                    sel.recv_value::<u32>(ib).unwrap();
                }
                other => panic!("{other:?}"),
            }
            n += 1;
        }
        n
    });
    assert_eq!(got, 1000);
}

#[test]
fn close_wakes_blocked_receiver_and_sender_panics() {
    let ch = chan::make::<u32>(0);
    let c2 = ch.clone();
    let (r, blocked) = common::spawn_watched(move || c2.recv());
    blocked.wait_parked(runtime::WaitReason::ChanReceive);
    ch.close();
    assert_eq!(r.join().unwrap(), None);
    let c3 = chan::make::<u32>(0);
    let c4 = c3.clone();
    let (s, blocked) = common::spawn_watched(move || c4.send(1));
    blocked.wait_parked(runtime::WaitReason::ChanSend);
    c3.close();
    let e = s.join().unwrap_err();
    assert_eq!(e.downcast_ref::<&str>(), Some(&"send on closed channel"));
}
