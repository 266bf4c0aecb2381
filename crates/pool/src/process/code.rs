//! Functions across the process boundary: a task's `fn(A) -> R` is sent as
//! its offset from an anchor function in the same executable, with the
//! offset of a trampoline monomorphized for `A` and `R` that decodes the
//! argument, calls the function and encodes the result.
//!
//! Offsets are ASLR-proof because a position-independent executable is
//! relocated as one block; they are meaningful only because the worker is
//! proven to run the same executable image as the parent (the worker execs
//! `/proc/self/exe` of the parent and checks its identity, see
//! `worker_main.rs`). Functions outside the executable's own image (in a
//! shared library, whose load address differs between processes) are refused
//! at submit time.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::chunk;
use super::codec::{self, SerdeError, SerdeStage};

/// How a task failed inside the worker (sent back in a `FAILED` frame).
#[derive(Debug)]
pub(crate) enum RemoteFailure {
    /// The task (or a `Deserialize`/`Serialize` impl called by it) panicked.
    Panicked(String),
    /// Decoding the argument or encoding the result failed.
    Serde(SerdeError),
}

/// A trampoline: decodes the argument, calls the function at `f`, appends the
/// encoded result to `out`.
pub(crate) type Trampoline =
    fn(f: usize, arg: &[u8], out: &mut Vec<u8>) -> Result<(), RemoteFailure>;

/// An initializer trampoline: decodes the initializer's argument (if it
/// takes one) and calls the initializer at `f`.
pub(crate) type InitTrampoline = fn(f: usize, arg: &[u8]) -> Result<(), String>;

/// The anchor every offset is taken from. Its body is unique so that it is
/// never merged with another function.
#[inline(never)]
fn anchor() -> u64 {
    std::hint::black_box(0x0063_665f_616e_6368)
}

fn anchor_addr() -> usize {
    anchor as fn() -> u64 as usize
}

/// The offset of a code address from the anchor.
pub(crate) fn offset_of(addr: usize) -> i64 {
    addr.wrapping_sub(anchor_addr()) as i64
}

/// The address at `offset` from the anchor, in this process.
pub(crate) fn addr_at(offset: i64) -> usize {
    anchor_addr().wrapping_add(offset as usize)
}

/// A function ready to be sent: its offset and the trampoline's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RemoteFn {
    pub(crate) f: i64,
    pub(crate) trampoline: i64,
}

/// Whether `addr` lies in an executable segment of the image that holds the
/// anchor (the main executable in a normal build).
pub(crate) fn in_image(addr: usize) -> bool {
    image_ranges()
        .iter()
        .any(|&(lo, hi)| lo <= addr && addr < hi)
}

fn image_ranges() -> &'static [(usize, usize)] {
    static RANGES: OnceLock<Vec<(usize, usize)>> = OnceLock::new();
    RANGES.get_or_init(find_image_ranges)
}

struct Search {
    target: usize,
    found: Vec<(usize, usize)>,
}

unsafe extern "C" fn visit(
    info: *mut libc::dl_phdr_info,
    _size: libc::size_t,
    data: *mut libc::c_void,
) -> libc::c_int {
    // SAFETY: `dl_iterate_phdr` passes the `data` pointer we gave it (a live
    // `&mut Search`, see `find_image_ranges`) and a valid `info` whose
    // `dlpi_phdr` points at `dlpi_phnum` program headers (dl_iterate_phdr(3)).
    let (search, info) = unsafe { (&mut *(data as *mut Search), &*info) };
    let base = info.dlpi_addr as usize;
    let mut ranges = Vec::new();
    for i in 0..info.dlpi_phnum as usize {
        // SAFETY: `i < dlpi_phnum`, see above.
        let ph = unsafe { &*info.dlpi_phdr.add(i) };
        if ph.p_type == libc::PT_LOAD && ph.p_flags & libc::PF_X != 0 {
            let lo = base.wrapping_add(ph.p_vaddr as usize);
            ranges.push((lo, lo.wrapping_add(ph.p_memsz as usize)));
        }
    }
    if ranges
        .iter()
        .any(|&(lo, hi)| lo <= search.target && search.target < hi)
    {
        search.found = ranges;
        1
    } else {
        0
    }
}

fn find_image_ranges() -> Vec<(usize, usize)> {
    let mut search = Search {
        target: anchor_addr(),
        found: Vec::new(),
    };
    // SAFETY: `visit` only reads what dl_iterate_phdr hands it and writes
    // through `data`, which points at `search`, alive for the whole call.
    unsafe {
        libc::dl_iterate_phdr(Some(visit), &mut search as *mut Search as *mut libc::c_void);
    }
    search.found
}

/// Builds the `RemoteFn` of `f: fn(A) -> R`, or `None` if `f` is not in the
/// executable's image.
pub(crate) fn remote_fn<A, R>(f: fn(A) -> R) -> Option<RemoteFn>
where
    A: DeserializeOwned + 'static,
    R: Serialize + 'static,
{
    let fa = f as usize;
    let t = call::<A, R> as Trampoline as usize;
    (in_image(fa) && in_image(t)).then(|| RemoteFn {
        f: offset_of(fa),
        trampoline: offset_of(t),
    })
}

/// Like [`remote_fn`] for a chunk of arguments (`map` with `chunksize`): the
/// trampoline decodes a `Vec<A>`, calls `f` on each under its own
/// `catch_unwind`, and encodes a `Vec<Result<R, String>>`.
pub(crate) fn remote_chunk_fn<A, R>(f: fn(A) -> R) -> Option<RemoteFn>
where
    A: DeserializeOwned + 'static,
    R: Serialize + 'static,
{
    let fa = f as usize;
    let t = call_chunk::<A, R> as Trampoline as usize;
    (in_image(fa) && in_image(t)).then(|| RemoteFn {
        f: offset_of(fa),
        trampoline: offset_of(t),
    })
}

/// The offsets of an initializer and its trampoline.
pub(crate) fn remote_init(f: usize, trampoline: InitTrampoline) -> Option<RemoteFn> {
    let t = trampoline as usize;
    (in_image(f) && in_image(t)).then(|| RemoteFn {
        f: offset_of(f),
        trampoline: offset_of(t),
    })
}

fn caught<T>(f: impl FnOnce() -> T) -> Result<T, RemoteFailure> {
    catch_unwind(AssertUnwindSafe(f))
        .map_err(|p| RemoteFailure::Panicked(codec::panic_message(p.as_ref())))
}

/// The trampoline of `fn(A) -> R`.
fn call<A: DeserializeOwned, R: Serialize>(
    f: usize,
    arg: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), RemoteFailure> {
    let a: A = codec::decode(arg, SerdeStage::ArgumentDecode).map_err(RemoteFailure::Serde)?;
    // SAFETY: `f` is the address of a `fn(A) -> R`: the parent built this
    // trampoline's offset from `call::<A, R>` and `f`'s from a value of type
    // `fn(A) -> R` in the same `remote_fn::<A, R>` call, both in the
    // executable's image, and the worker runs that same image (checked at
    // start, `worker_main.rs`), so the same offsets name the same code here.
    // Function pointers and `usize` have the same size on every target Rust
    // supports with `dl_iterate_phdr`.
    let f: fn(A) -> R = unsafe { std::mem::transmute::<usize, fn(A) -> R>(f) };
    let r = caught(move || f(a))?;
    codec::encode_into(&r, out, SerdeStage::ResultEncode).map_err(RemoteFailure::Serde)
}

/// The trampoline of a chunk of `fn(A) -> R` calls.
fn call_chunk<A: DeserializeOwned, R: Serialize>(
    f: usize,
    arg: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), RemoteFailure> {
    // SAFETY: as in `call`: `f` was a `fn(A) -> R` in the parent, built in
    // the same `remote_chunk_fn::<A, R>` call as this trampoline's offset.
    let f: fn(A) -> R = unsafe { std::mem::transmute::<usize, fn(A) -> R>(f) };
    chunk::run_items(f, arg, out).map_err(RemoteFailure::Serde)
}

fn init_outcome(r: std::thread::Result<Result<(), String>>) -> Result<(), String> {
    r.unwrap_or_else(|p| {
        Err(format!(
            "initializer panicked: {}",
            codec::panic_message(p.as_ref())
        ))
    })
}

/// Initializer trampoline for `fn()`.
pub(crate) fn init_plain(f: usize, _: &[u8]) -> Result<(), String> {
    // SAFETY: the parent built this trampoline's offset together with `f`'s
    // from a `fn()` (`ProcessPoolBuilder::initializer`); same image, see `call`.
    let f: fn() = unsafe { std::mem::transmute::<usize, fn()>(f) };
    init_outcome(catch_unwind(move || {
        f();
        Ok(())
    }))
}

/// Initializer trampoline for `fn() -> Result<(), String>`.
pub(crate) fn init_fallible(f: usize, _: &[u8]) -> Result<(), String> {
    // SAFETY: the parent built this trampoline's offset together with `f`'s
    // from a `fn() -> Result<(), String>` (`ProcessPoolBuilder::try_initializer`).
    let f: fn() -> Result<(), String> =
        unsafe { std::mem::transmute::<usize, fn() -> Result<(), String>>(f) };
    init_outcome(catch_unwind(f))
}

/// Initializer trampoline for `fn(A)` with an encoded `A` (Python's
/// `initargs`).
pub(crate) fn init_with<A: DeserializeOwned>(f: usize, arg: &[u8]) -> Result<(), String> {
    let a: A = codec::decode(arg, SerdeStage::ArgumentDecode).map_err(|e| e.to_string())?;
    // SAFETY: the parent built this trampoline's offset (`init_with::<A>`)
    // together with `f`'s from a `fn(A)` in `ProcessPoolBuilder::initializer_with`;
    // same image, see `call`.
    let f: fn(A) = unsafe { std::mem::transmute::<usize, fn(A)>(f) };
    init_outcome(catch_unwind(AssertUnwindSafe(move || {
        f(a);
        Ok(())
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn double(x: u32) -> u64 {
        u64::from(x) * 2
    }

    #[test]
    fn offsets_round_trip_and_call() {
        let rf = remote_fn(double).expect("double is in the image");
        let t: Trampoline = {
            let a = addr_at(rf.trampoline);
            // SAFETY: test: `a` is `call::<u32, u64>` as a `Trampoline`.
            unsafe { std::mem::transmute::<usize, Trampoline>(a) }
        };
        let mut arg = Vec::new();
        codec::encode_into(&21u32, &mut arg, SerdeStage::ArgumentEncode).unwrap();
        let mut out = Vec::new();
        t(addr_at(rf.f), &arg, &mut out).unwrap();
        let r: u64 = codec::decode(&out, SerdeStage::ResultDecode).unwrap();
        assert_eq!(r, 42);
    }

    #[test]
    fn closures_without_captures_are_in_the_image() {
        assert!(remote_fn(|x: u8| x + 1).is_some());
        assert!(!in_image(0));
        assert!(!in_image(&0u8 as *const u8 as usize));
    }
}
