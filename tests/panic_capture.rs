//! A goroutine's failure reaches the test that caused it. goro's M threads inherit the
//! output capture of whichever test started them, so a later test's goroutine panic message
//! used to land in an earlier test's buffer, and the failing test showed FAILED with no
//! reason. `block_on` now repeats the message on the caller's thread.
//!
//! Checked through the real harness: the checker runs this test binary again as a child,
//! with only the two `child_*` cases (ignored in a normal run: one of them fails on purpose)
//! in order on one thread, and reads libtest's report.

use std::process::Command;

#[test]
#[ignore = "run as a child by a_goroutine_panic_is_reported_in_the_failing_tests_output"]
fn child_a_starts_the_runtime() {
    goro::block_on(|| ());
}

#[test]
#[ignore = "run as a child by a_goroutine_panic_is_reported_in_the_failing_tests_output"]
fn child_b_fails_in_a_goroutine() {
    goro::block_on(|| assert_eq!(0, 1, "the real reason"));
}

#[test]
fn a_goroutine_panic_is_reported_in_the_failing_tests_output() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--test-threads=1",
            "child_a_starts_the_runtime",
            "child_b_fails_in_a_goroutine",
        ])
        .output()
        .expect("run the test binary as a child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "child_b must fail:\n{stdout}");
    // libtest prints each failing test's captured output under `---- name stdout ----`.
    let section = stdout
        .split("---- child_b_fails_in_a_goroutine stdout ----")
        .nth(1)
        .unwrap_or_else(|| panic!("no output section for the failing test:\n{stdout}"));
    let section = section.split("\n---- ").next().unwrap_or(section);
    assert!(
        section.contains("the real reason"),
        "the failing test's own output does not say why:\n{section}"
    );
}
