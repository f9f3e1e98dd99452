//! Runs each ported Go example (`examples/<name>.rs`) and compares its stdout with
//! `examples/expected/<name>.txt`.
//!
//! A plain `cargo test` builds the root package's examples into
//! `target/<profile>/examples/`, but `cargo test --test examples` neither builds them nor
//! rebuilds a changed one. So the first test to run calls the same cargo (`$CARGO build
//! --examples`, same profile and target directory: a no-op when they are fresh). The
//! binaries are found from `current_exe()` (`target/<profile>/deps/examples-HASH` ->
//! `target/<profile>/examples/<name>`); a build failure or a missing binary fails the test.
//! Each example is killed and fails after 60 s.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(60);

/// `target/<profile>` (or `target/<triple>/<profile>`): where this test binary was built.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps")
        .to_path_buf()
}

/// Brings the examples up to date, once per test run: the result of `cargo build --examples`
/// with this test's cargo, profile, target directory and target triple.
fn build_examples() -> &'static Result<(), String> {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    BUILT.get_or_init(|| {
        let profile_dir = profile_dir();
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => "dev".to_string(),
            Some(p) => p.to_string(),
            None => return Err(format!("no profile in {}", profile_dir.display())),
        };
        let parent = profile_dir.parent().expect("a target directory");
        let mut cmd = Command::new(env!("CARGO"));
        cmd.arg("build")
            .arg("--manifest-path")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .args(["-p", "goro", "--examples", "--profile", &profile]);
        if parent.join("CACHEDIR.TAG").exists() {
            cmd.env("CARGO_TARGET_DIR", parent);
        } else {
            // target/<triple>/<profile>
            let triple = parent.file_name().expect("a target triple");
            cmd.arg("--target").arg(triple);
            cmd.env(
                "CARGO_TARGET_DIR",
                parent.parent().expect("a target directory"),
            );
        }
        match cmd.status() {
            Ok(s) if s.success() => Ok(()),
            Ok(s) => Err(format!("{cmd:?} failed: {s}")),
            Err(e) => Err(format!("{cmd:?} did not start: {e}")),
        }
    })
}

fn run_example(name: &str) {
    if let Err(e) = build_examples() {
        panic!("building the examples: {e}");
    }
    let bin = profile_dir()
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "example binary {} is missing after `cargo build --examples`",
        bin.display()
    );
    let expected_path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/expected")
        .join(format!("{name}.txt"));
    let expected = std::fs::read_to_string(&expected_path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", expected_path.display()));

    let start = Instant::now();
    let mut child = Command::new(&bin)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
    // Read both pipes on threads so a chatty child cannot block on a full pipe.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = Vec::new();
        out.read_to_end(&mut s).map(|_| s)
    });
    let err = std::thread::spawn(move || {
        let mut s = Vec::new();
        err.read_to_end(&mut s).map(|_| s)
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for the example") {
            break status;
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("example {name} did not finish within {TIMEOUT:?}: killed");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    let stdout =
        String::from_utf8_lossy(&out.join().unwrap().expect("reading stdout")).into_owned();
    let stderr =
        String::from_utf8_lossy(&err.join().unwrap().expect("reading stderr")).into_owned();
    eprintln!("example {name}: {status} in {elapsed:?}");

    assert!(
        status.success(),
        "example {name} failed: {status}\n--- stdout\n{stdout}--- stderr\n{stderr}"
    );
    if stdout != expected {
        let first = stdout
            .lines()
            .zip(expected.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| stdout.lines().count().min(expected.lines().count()));
        panic!(
            "example {name}: stdout differs from {} (first at line {})\n--- got\n{stdout}--- \
             expected\n{expected}--- stderr\n{stderr}",
            expected_path.display(),
            first + 1
        );
    }
}

macro_rules! examples {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run_example(stringify!($name));
            }
        )*

        /// Every `examples/expected/*.txt` has a test above, so none is forgotten.
        #[test]
        fn every_expected_output_is_tested() {
            let tested = [$(stringify!($name)),*];
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/expected");
            for e in std::fs::read_dir(&dir).expect("examples/expected") {
                let path = e.unwrap().path();
                let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
                assert!(
                    tested.contains(&stem.as_str()),
                    "{} has no test in tests/examples.rs",
                    path.display()
                );
            }
        }
    };
}

examples!(
    pipeline,
    fanout_cancel,
    rate_limit,
    sieve,
    daisy_chain,
    binary_trees,
    web_crawler,
    digest,
    worker_pool,
    select_timeout,
);
