//! The supported way to test process-pool code with `cargo test`: a
//! `harness = false` target whose `main` is `process_test_main!` (see
//! `process::testing`). Run one with `cargo test --test
//! process_testing_helper -- NAME`.

use concurrent_futures_pool::process::ProcessPoolExecutor;

fn square(x: u64) -> u64 {
    x * x
}

fn squares_in_a_worker() {
    let ex = ProcessPoolExecutor::new(2).unwrap();
    let squares = ex.map(square, 0..10).unwrap().into_result().unwrap();
    assert_eq!(squares.iter().sum::<u64>(), 285);
}

fn workers_are_other_processes() {
    let ex = ProcessPoolExecutor::new(1).unwrap();
    let pid = ex.submit(|_: ()| std::process::id(), ()).unwrap();
    assert_ne!(pid.into_result().unwrap(), std::process::id());
}

concurrent_futures_pool::process_test_main!(squares_in_a_worker, workers_are_other_processes,);
