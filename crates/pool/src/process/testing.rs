//! Testing process-pool code with `cargo test`.
//!
//! A process pool's workers re-execute the program, and `init()` must be
//! the first line of `main`, on the main thread. libtest's `main` runs each
//! `#[test]` on a thread of its own, so [`init()`](super::init) refuses to
//! run there. Instead, give the tests a `main` of their own: a
//! `harness = false` test target whose `main` is [`main`] (or the
//! [`process_test_main!`](crate::process_test_main) macro). It calls
//! `init()` first, then runs the named tests one by one, each under
//! `catch_unwind`, with libtest's filter (`cargo test -- NAME`, `--exact`)
//! and `--list` (for `cargo nextest`), and prints `N passed, N failed`.
//!
//! # Examples
//!
//! `Cargo.toml`:
//!
//! ```toml
//! [[test]]
//! name = "primes"
//! harness = false
//! ```
//!
//! `tests/primes.rs`:
//!
//! ```no_run
//! use concurrent_futures::process::ProcessPoolExecutor;
//!
//! fn square(x: u64) -> u64 {
//!     x * x
//! }
//!
//! fn squares_in_a_worker() {
//!     let ex = ProcessPoolExecutor::new(2).unwrap();
//!     assert_eq!(ex.submit(square, 7).unwrap().into_result().unwrap(), 49);
//! }
//!
//! fn workers_are_other_processes() {
//!     let ex = ProcessPoolExecutor::new(1).unwrap();
//!     let pid = ex.submit(|_: ()| std::process::id(), ()).unwrap();
//!     assert_ne!(pid.into_result().unwrap(), std::process::id());
//! }
//!
//! concurrent_futures::process_test_main!(squares_in_a_worker, workers_are_other_processes);
//! ```

use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

/// A named test for [`main`].
pub type Test = (&'static str, fn());

/// The `main` of a `harness = false` test of process-pool code: calls
/// [`init()`](super::init) first (in a worker it serves and never returns),
/// then runs the selected tests and exits with status 1 if any failed.
///
/// Arguments, as libtest's: a name filter (substring; whole name with
/// `--exact`), `--list` (one `name: test` line each; nothing with
/// `--ignored`), and libtest's other flags are accepted and ignored.
///
/// # Examples
///
/// ```no_run
/// fn one_plus_one() {
///     assert_eq!(1 + 1, 2);
/// }
///
/// fn main() {
///     concurrent_futures::process::testing::main(&[("one_plus_one", one_plus_one)]);
/// }
/// ```
pub fn main(tests: &[Test]) {
    super::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = run(tests, &args, &mut std::io::stdout());
    std::process::exit(code);
}

/// Runs the tests `args` select, reporting to `out`: the exit status.
fn run(tests: &[Test], args: &[String], out: &mut dyn Write) -> i32 {
    let flag = |f: &str| args.iter().any(|a| a == f);
    if flag("--list") {
        if !flag("--ignored") {
            for (name, _) in tests {
                let _ = writeln!(out, "{name}: test");
            }
        }
        return 0;
    }
    let exact = flag("--exact");
    let filter = args.iter().find(|a| !a.starts_with('-'));
    let (mut passed, mut failed) = (0u32, 0u32);
    for &(name, test) in tests {
        let selected = match filter {
            None => true,
            Some(f) if exact => name == f,
            Some(f) => name.contains(f.as_str()),
        };
        if !selected {
            continue;
        }
        let _ = write!(out, "test {name} ... ");
        let _ = out.flush();
        let start = Instant::now();
        match catch_unwind(AssertUnwindSafe(test)) {
            Ok(()) => {
                passed += 1;
                let _ = writeln!(out, "ok ({:.2?})", start.elapsed());
            }
            Err(p) => {
                failed += 1;
                let _ = writeln!(out, "FAILED: {}", super::codec::panic_message(p.as_ref()));
            }
        }
    }
    let _ = writeln!(out, "\n{passed} passed, {failed} failed");
    i32::from(failed > 0)
}

/// Defines `main` for a `harness = false` test of process-pool code: the
/// named test functions run through [`testing::main`](crate::process::testing::main).
///
/// # Examples
///
/// ```no_run
/// fn spawns_a_worker() {
///     let ex = concurrent_futures::process::ProcessPoolExecutor::new(1).unwrap();
///     assert_eq!(ex.submit(|x: u8| x + 1, 1).unwrap().into_result().unwrap(), 2);
/// }
///
/// concurrent_futures::process_test_main!(spawns_a_worker);
/// ```
#[macro_export]
macro_rules! process_test_main {
    ($($test:ident),+ $(,)?) => {
        fn main() {
            $crate::process::testing::main(&[$((stringify!($test), $test as fn())),+]);
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passes() {}

    fn fails() {
        panic!("expected failure")
    }

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn filters_lists_and_counts() {
        let tests: &[Test] = &[("passes", passes), ("fails", fails)];
        let mut out = Vec::new();
        assert_eq!(run(tests, &args(&["pass"]), &mut out), 0);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("test passes ... ok"), "{text}");
        assert!(text.ends_with("1 passed, 0 failed\n"), "{text}");

        let mut out = Vec::new();
        assert_eq!(run(tests, &args(&[]), &mut out), 1);
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("test fails ... FAILED: expected failure"),
            "{text}"
        );
        assert!(text.ends_with("1 passed, 1 failed\n"), "{text}");

        let mut out = Vec::new();
        assert_eq!(run(tests, &args(&["--exact", "pass"]), &mut out), 0);
        assert!(String::from_utf8(out)
            .unwrap()
            .ends_with("0 passed, 0 failed\n"));

        let mut out = Vec::new();
        assert_eq!(run(tests, &args(&["--list"]), &mut out), 0);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "passes: test\nfails: test\n"
        );
    }
}
