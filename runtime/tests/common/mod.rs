//! Test support: the workspace's toolkit (`goro-test-support`: the watchdog, waits for
//! goroutines and threads to block), under the name every test file includes.

#![allow(unused_imports, dead_code)]

pub use test_support::{Watched, rss_bytes, spawn_watched, thread_watched, wait_until, watchdog};

pub mod deep;
