//! `#[goro::main]` with options (issue 20): a `harness = false` test, so that this `main` is
//! the program's, the runtime starts here, and the options are the ones it starts with. It
//! runs twice: as itself, then as a child with `GOMAXPROCS=1` and `GORO_STACK_SIZE=128k` set
//! (the attribute's values win over the environment, as a Go program's
//! `runtime.GOMAXPROCS(3)` in `main` does).

use goro::{chan, go, runtime};
use std::process::Command;

const CHILD: &str = "GORO_MACROS_MAIN_CHILD";

#[goro::main(gomaxprocs = 3, stack_size = "1m")]
fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    assert_eq!(runtime::gomaxprocs(0), 3);
    assert_eq!(runtime::stack_size(), 1 << 20);
    // The body is the main goroutine.
    let dump = runtime::stack_dump();
    assert!(dump.contains("[running"), "{dump}");
    assert!(dump.contains("tests/macros_main.rs"), "{dump}");
    // A recursion that needs more than the default 256 KiB of stack (about 512 KiB here).
    fn deep(n: u32) -> u32 {
        let pad = std::hint::black_box([0u8; 1024]);
        if n == 0 {
            u32::from(pad[0])
        } else {
            deep(n - 1) + 1
        }
    }
    let h = goro::spawn(|| deep(500));
    assert_eq!(h.join().unwrap(), 500);
    let ch = chan::make::<u32>(0);
    go!(ch => ch.send(7));
    assert_eq!(ch.recv(), Some(7));

    if std::env::var_os(CHILD).is_none() {
        let out = Command::new(std::env::current_exe()?)
            .env(CHILD, "1")
            .env("GOMAXPROCS", "1")
            .env("GORO_STACK_SIZE", "128k")
            .output()?;
        assert!(
            out.status.success(),
            "the child failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        // `?` in the body: main's return type is the closure's.
        let n: u32 = "3".parse()?;
        assert_eq!(n, 3);
        println!("macros_main: ok (and in a child with GOMAXPROCS=1, GORO_STACK_SIZE=128k)");
    }
    Ok(())
}
