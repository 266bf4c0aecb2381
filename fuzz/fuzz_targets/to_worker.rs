//! The worker's decoder: arbitrary bytes from the parent's side of the
//! socket (frames, `TASK` / `INIT` payloads, the codec on the argument).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    concurrent_futures_pool::process::__fuzz::to_worker(data);
});
