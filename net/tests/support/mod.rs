//! What the net tests share besides the watchdog: finding one goroutine in the dump.

#![allow(dead_code)]

/// Whether `stack_dump` shows a goroutine spawned at `site` (`"file.rs:LINE:"`) in `state`
/// (e.g. `"IO wait"`). Other tests' goroutines run in the same process, so a test that waits
/// for its own goroutine to park names it by its spawn site.
pub fn dump_shows(site: &str, state: &str) -> bool {
    runtime::stack_dump()
        .split("\ngoroutine ")
        .any(|g| g.contains(&format!("[{state}")) && g.contains(site))
}

/// The spawn site of a goroutine spawned on the line after this one, as `dump_shows` takes it.
#[macro_export]
macro_rules! next_line_site {
    () => {
        format!(
            "{}:{}:",
            std::path::Path::new(file!())
                .file_name()
                .unwrap()
                .to_string_lossy(),
            line!() + 1
        )
    };
}
