//! The compile errors of `#[goro::main]` and `#[goro::test]` (issue 20): bad options and
//! functions the attributes cannot take, each case in `tests/ui/` with the expected
//! `.stderr`. Refresh them with `TRYBUILD=overwrite cargo test -p goro --test macros_ui`.

#[test]
fn ui() {
    trybuild::TestCases::new().compile_fail("tests/ui/*.rs");
}
