//! Tasks in files: a task's `fn(A) -> R` is stored as its offset from an
//! anchor function with the offset of a trampoline monomorphized for `A`
//! and `R`, as the process pool sends them. The offsets mean something only
//! in the same executable, which the job proves by hashing itself
//! (`worker.rs`). Functions outside the executable's image are refused.
//!
//! The file formats: a task file ([`TaskFile`]) per job or array element,
//! written by the parent; a result file ([`ResultFile`]) written by the
//! job, atomically.

use std::panic::{catch_unwind, AssertUnwindSafe};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// The magic first bytes of a task file and of a result file (format 1).
const TASK_MAGIC: &[u8; 8] = b"cfslrmT1";
const RESULT_MAGIC: &[u8; 8] = b"cfslrmR1";

/// Encodes and decodes values (arguments and results) as the process pool
/// does, with its own codec: MessagePack with named fields; decoding takes
/// exactly the bytes given (trailing bytes are an error).
pub(crate) use concurrent_futures_pool::process::__codec::{decode, encode};

/// A trampoline: decodes the argument, calls the function at `f`, encodes
/// the result.
pub(crate) type Trampoline = fn(f: usize, arg: &[u8]) -> Outcome;

/// The anchor every offset is taken from (a unique body, never merged).
#[inline(never)]
fn anchor() -> u64 {
    std::hint::black_box(0x0063_665f_736c_726d)
}

fn anchor_addr() -> usize {
    anchor as fn() -> u64 as usize
}

fn offset_of(addr: usize) -> i64 {
    addr.wrapping_sub(anchor_addr()) as i64
}

fn addr_at(offset: i64) -> usize {
    anchor_addr().wrapping_add(offset as usize)
}

/// The base address of the loaded object (executable or library) holding
/// `addr`, if any.
fn object_base(addr: usize) -> Option<usize> {
    // SAFETY: dladdr only reads the loader's tables and writes the `Dl_info`
    // we own; `addr` need not be valid for it.
    unsafe {
        let mut info: libc::Dl_info = std::mem::zeroed();
        (libc::dladdr(addr as *const libc::c_void, &mut info) != 0)
            .then_some(info.dli_fbase as usize)
    }
}

/// Whether `addr` lies in the same loaded object as the anchor.
fn in_image(addr: usize) -> bool {
    let base = object_base(anchor_addr());
    base.is_some() && object_base(addr) == base
}

/// A function ready to be stored: its offset and its trampoline's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RemoteFn {
    pub(crate) f: i64,
    pub(crate) trampoline: i64,
}

fn remote(f: usize, t: usize) -> Option<RemoteFn> {
    (in_image(f) && in_image(t)).then(|| RemoteFn {
        f: offset_of(f),
        trampoline: offset_of(t),
    })
}

/// `f` run on one argument.
pub(crate) fn remote_fn<A, R>(f: fn(A) -> R) -> Option<RemoteFn>
where
    A: DeserializeOwned + 'static,
    R: Serialize + 'static,
{
    remote(f as usize, call::<A, R> as Trampoline as usize)
}

/// `f` run on each of a chunk of arguments (`Vec<A>`), each item's panic
/// kept apart.
pub(crate) fn remote_chunk_fn<A, R>(f: fn(A) -> R) -> Option<RemoteFn>
where
    A: DeserializeOwned + 'static,
    R: Serialize + 'static,
{
    remote(f as usize, call_chunk::<A, R> as Trampoline as usize)
}

/// How a task ran, as the job reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The encoded result (for a chunk: a `Vec<Result<R, String>>`, each
    /// `Err` an item's panic message).
    Ok(Vec<u8>),
    /// The task panicked with this message.
    Panicked(String),
    /// The argument did not decode or the result did not encode.
    Serde(String),
    /// The task ran past its time limit (milliseconds); the job's process
    /// (this pid) ended.
    TimedOut { limit_ms: u64, pid: u32 },
}

/// Runs the trampoline stored in `rf` on `arg`.
///
/// # Safety
///
/// `rf` must have been made by [`remote_fn`] or [`remote_chunk_fn`] in a
/// process of this same executable (the caller checked its hash).
pub(crate) unsafe fn run(rf: RemoteFn, arg: &[u8]) -> Outcome {
    // SAFETY: per this function's contract the trampoline offset is that of
    // a `Trampoline` of this image.
    let t: Trampoline = unsafe { std::mem::transmute::<usize, Trampoline>(addr_at(rf.trampoline)) };
    t(addr_at(rf.f), arg)
}

fn call<A: DeserializeOwned, R: Serialize>(f: usize, arg: &[u8]) -> Outcome {
    // SAFETY: `f` was stored by `remote_fn::<A, R>` from an `fn(A) -> R` of
    // this image (see `run`).
    let f: fn(A) -> R = unsafe { std::mem::transmute_copy::<usize, fn(A) -> R>(&f) };
    let a: A = match decode(arg) {
        Ok(a) => a,
        Err(e) => return Outcome::Serde(format!("cannot decode the argument: {e}")),
    };
    match catch_unwind(AssertUnwindSafe(|| f(a))) {
        Ok(r) => match encode(&r) {
            Ok(bytes) => Outcome::Ok(bytes),
            Err(e) => Outcome::Serde(format!("cannot encode the result: {e}")),
        },
        Err(p) => Outcome::Panicked(concurrent_futures_core::panic_message(p.as_ref()).to_owned()),
    }
}

fn call_chunk<A: DeserializeOwned, R: Serialize>(f: usize, arg: &[u8]) -> Outcome {
    // SAFETY: as in `call`, stored by `remote_chunk_fn::<A, R>`.
    let f: fn(A) -> R = unsafe { std::mem::transmute_copy::<usize, fn(A) -> R>(&f) };
    let items: Vec<A> = match decode(arg) {
        Ok(a) => a,
        Err(e) => return Outcome::Serde(format!("cannot decode the chunk: {e}")),
    };
    let results: Vec<Result<R, String>> = items
        .into_iter()
        .map(|a| {
            catch_unwind(AssertUnwindSafe(|| f(a)))
                .map_err(|p| concurrent_futures_core::panic_message(p.as_ref()).to_owned())
        })
        .collect();
    match encode(&results) {
        Ok(bytes) => Outcome::Ok(bytes),
        Err(e) => Outcome::Serde(format!("cannot encode the results: {e}")),
    }
}

/// What a job reads: the function, the time limit, the encoded argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TaskFile {
    pub(crate) func: RemoteFn,
    pub(crate) limit_ms: Option<u64>,
    pub(crate) arg: Vec<u8>,
}

/// What a job writes: where it ran and how the task went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ResultFile {
    pub(crate) node: String,
    pub(crate) pid: u32,
    pub(crate) outcome: Outcome,
}

/// A little-endian reader over a file's bytes.
struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn string(&mut self) -> Option<String> {
        let n = self.u32()? as usize;
        Some(String::from_utf8_lossy(self.take(n)?).into_owned())
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    let n = u32::try_from(s.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&s.as_bytes()[..n as usize]);
}

impl TaskFile {
    /// The file: magic, function and trampoline offsets, the limit in ms
    /// (`u64::MAX`: none), then the encoded argument to the end.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.arg.len());
        out.extend_from_slice(TASK_MAGIC);
        out.extend_from_slice(&self.func.f.to_le_bytes());
        out.extend_from_slice(&self.func.trampoline.to_le_bytes());
        out.extend_from_slice(&self.limit_ms.unwrap_or(u64::MAX).to_le_bytes());
        out.extend_from_slice(&self.arg);
        out
    }

    pub(crate) fn from_bytes(bytes: &[u8]) -> Option<TaskFile> {
        let mut b = Bytes(bytes);
        if b.take(8)? != TASK_MAGIC {
            return None;
        }
        let func = RemoteFn {
            f: b.i64()?,
            trampoline: b.i64()?,
        };
        let limit = b.u64()?;
        Some(TaskFile {
            func,
            limit_ms: (limit != u64::MAX).then_some(limit),
            arg: b.0.to_vec(),
        })
    }
}

impl ResultFile {
    /// The file: magic, pid, node, the outcome's tag and its payload.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(RESULT_MAGIC);
        out.extend_from_slice(&self.pid.to_le_bytes());
        put_str(&mut out, &self.node);
        match &self.outcome {
            Outcome::Ok(bytes) => {
                out.push(0);
                out.extend_from_slice(bytes);
            }
            Outcome::Panicked(m) => {
                out.push(1);
                put_str(&mut out, m);
            }
            Outcome::Serde(m) => {
                out.push(2);
                put_str(&mut out, m);
            }
            Outcome::TimedOut { limit_ms, pid } => {
                out.push(3);
                out.extend_from_slice(&limit_ms.to_le_bytes());
                out.extend_from_slice(&pid.to_le_bytes());
            }
        }
        out
    }

    pub(crate) fn from_bytes(bytes: &[u8]) -> Option<ResultFile> {
        let mut b = Bytes(bytes);
        if b.take(8)? != RESULT_MAGIC {
            return None;
        }
        let pid = b.u32()?;
        let node = b.string()?;
        let outcome = match b.u8()? {
            0 => Outcome::Ok(b.0.to_vec()),
            1 => Outcome::Panicked(b.string()?),
            2 => Outcome::Serde(b.string()?),
            3 => Outcome::TimedOut {
                limit_ms: b.u64()?,
                pid: b.u32()?,
            },
            _ => return None,
        };
        Some(ResultFile { node, pid, outcome })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn double(x: u32) -> u32 {
        x * 2
    }

    fn picky(x: u32) -> u32 {
        assert!(x != 3, "three");
        x
    }

    #[test]
    fn trampolines_run_here() {
        let rf = remote_fn(double).unwrap();
        // SAFETY: made by remote_fn in this process.
        let out = unsafe { run(rf, &encode(&21u32).unwrap()) };
        assert_eq!(out, Outcome::Ok(encode(&42u32).unwrap()));
        let rf = remote_fn(picky).unwrap();
        // SAFETY: as above.
        let out = unsafe { run(rf, &encode(&3u32).unwrap()) };
        assert_eq!(out, Outcome::Panicked("three".into()));
        // SAFETY: as above.
        let out = unsafe { run(rf, b"") };
        assert!(matches!(out, Outcome::Serde(_)));
    }

    #[test]
    fn files_round_trip() {
        let t = TaskFile {
            func: RemoteFn {
                f: -12,
                trampoline: 34,
            },
            limit_ms: Some(1500),
            arg: vec![1, 2, 3],
        };
        assert_eq!(TaskFile::from_bytes(&t.to_bytes()), Some(t.clone()));
        let none = TaskFile {
            limit_ms: None,
            ..t
        };
        assert_eq!(TaskFile::from_bytes(&none.to_bytes()), Some(none));
        for outcome in [
            Outcome::Ok(vec![9, 8]),
            Outcome::Panicked("p".into()),
            Outcome::Serde("s".into()),
            Outcome::TimedOut {
                limit_ms: 7,
                pid: 8,
            },
        ] {
            let r = ResultFile {
                node: "n1".into(),
                pid: 5,
                outcome,
            };
            assert_eq!(ResultFile::from_bytes(&r.to_bytes()), Some(r));
        }
        assert_eq!(ResultFile::from_bytes(b"cfslrmR1\0"), None);
        assert_eq!(TaskFile::from_bytes(b"garbage"), None);
    }

    #[test]
    fn chunks_keep_each_items_panic() {
        let rf = remote_chunk_fn(picky).unwrap();
        // SAFETY: made by remote_chunk_fn in this process.
        let out = unsafe { run(rf, &encode(&vec![2u32, 3, 4]).unwrap()) };
        let Outcome::Ok(bytes) = out else {
            panic!("{out:?}")
        };
        let items: Vec<Result<u32, String>> = decode(&bytes).unwrap();
        assert_eq!(items, [Ok(2), Err("three".into()), Ok(4)]);
    }
}
