//! Finding the root package's example binaries from an integration test (shared by
//! tests/examples.rs and tests/net_examples.rs).
//!
//! A plain `cargo test` builds the root package's examples into
//! `target/<profile>/examples/`, but `cargo test --test examples` neither builds them nor
//! rebuilds a changed one. So the first test to ask for one calls the same cargo (`$CARGO
//! build --examples`, same profile and target directory: a no-op when they are fresh). The
//! binaries are found from `current_exe()` (`target/<profile>/deps/TEST-HASH` ->
//! `target/<profile>/examples/<name>`); a build failure or a missing binary fails the test.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// `target/<profile>` (or `target/<triple>/<profile>`): where this test binary was built.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps")
        .to_path_buf()
}

/// Brings the examples up to date, once per test run: the result of `cargo build --examples`
/// with this test's cargo, profile, target directory and target triple.
pub fn build_examples() -> &'static Result<(), String> {
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

/// The up-to-date binary of example `name`.
pub fn example_bin(name: &str) -> PathBuf {
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
    bin
}
