//! Runs each ported Go example (`examples/<name>.rs`) and compares its stdout with
//! `examples/expected/<name>.txt`. The binaries come from [`example_bin`] (built once per
//! run with this test's cargo and profile). Each example is killed and fails after 60 s.

mod example_bin;

use example_bin::example_bin;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(60);

fn run_example(name: &str) {
    let bin = example_bin(name);
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
    echo_server,
);
