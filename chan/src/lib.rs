//! goro's channels, select engine, timer channels and `context` (to come: see the chan issue).
//!
//! This crate is a placeholder in the workspace layout of DESIGN.md section 1; it builds on the
//! runtime's park/unpark API ([`runtime::Waiter`]).
