//! The parent's decoder: arbitrary bytes from a worker's side of the
//! socket (frames, `READY` / `INIT_FAILED` / `OK` / `FAILED` payloads, the
//! codec on a result).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    concurrent_futures_pool::process::__fuzz::from_worker(data);
});
