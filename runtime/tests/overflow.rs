//! A goroutine that overflows its stack is named, not left as a bare SIGSEGV.

use std::process::Command;

const CHILD_ENV: &str = "GORO_TEST_OVERFLOW_CHILD";

#[inline(never)]
fn recurse(n: u64, buf: &mut [u8; 1024]) -> u64 {
    let mut local = [0u8; 1024];
    local[n as usize % 1024] = buf[n as usize % 1024].wrapping_add(1);
    std::hint::black_box(&mut local);
    if n == 0 {
        0
    } else {
        recurse(n - 1, &mut local) + local[0] as u64
    }
}

#[test]
fn stack_overflow_in_a_goroutine_names_the_goroutine() {
    if std::env::var_os(CHILD_ENV).is_some() {
        // In the child: overflow a 256 KiB goroutine stack.
        let h = runtime::spawn(|| recurse(1 << 20, &mut [0; 1024]));
        let _ = h.join();
        unreachable!("the overflow should have aborted the process");
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "stack_overflow_in_a_goroutine_names_the_goroutine",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .env("GORO_STACK_SIZE", "256k")
        .output()
        .expect("run child test process");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "the child must die; stderr:\n{stderr}"
    );
    let line = stderr
        .lines()
        .find(|l| l.contains("overflowed its"))
        .unwrap_or_else(|| panic!("no overflow report in stderr:\n{stderr}"));
    assert!(line.starts_with("goroutine "), "{line}");
    assert!(
        line.contains("(spawned at ") && line.contains("overflow.rs:"),
        "{line}"
    );
    assert!(line.ends_with("overflowed its 256 KiB stack"), "{line}");
}
