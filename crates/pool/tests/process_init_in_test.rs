//! FAULTS 29: `process::init()` called from an ordinary libtest `#[test]`
//! is refused with a clear message (before: it returned, and every worker
//! re-ran the whole test binary, filtered-out tests included). The
//! supported way is `tests/process_testing_helper.rs`.

use concurrent_futures_pool::process::{self, ProcessPoolExecutor};
use concurrent_futures_pool::BuildError;

#[test]
fn init_in_a_libtest_test_is_refused() {
    // The expected panic's message is checked below, not printed.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let refused = std::panic::catch_unwind(process::init);
    std::panic::set_hook(hook);
    let payload = refused.expect_err("init() on a libtest thread must be refused");
    let msg = concurrent_futures_core::panic_message(payload.as_ref());
    assert!(msg.contains("main thread"), "{msg}");
    assert!(msg.contains("harness = false"), "{msg}");
    assert!(msg.contains("testing::main"), "{msg}");
    // And nothing was recorded: a pool is still refused, no worker started.
    assert!(matches!(
        ProcessPoolExecutor::new(1),
        Err(BuildError::NotInitialized)
    ));
}
