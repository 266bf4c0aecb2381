//! The wire form of a `map` chunk: every item encoded on its own, so that one
//! item whose argument or result cannot cross the process boundary fails its
//! own place only, at the stage where it failed, as with `chunksize(1)`.
//!
//! ```text
//! arguments: count: u32 LE, then per item: len: u32 LE, the item's codec bytes
//! results:   count: u32 LE, then per item: tag: u8, len: u32 LE, bytes
//!            tag OK: the result's codec bytes; PANICKED, ARG_DECODE,
//!            RESULT_ENCODE: a UTF-8 message
//! ```
//!
//! Both ends are this file; a frame that does not parse (which only a bug or
//! a corrupted stream makes) fails the whole chunk, as a frame that does not
//! decode did before.

use std::panic::{catch_unwind, AssertUnwindSafe};

use concurrent_futures_core::TaskError;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::codec::{self, SerdeError, SerdeStage};

const OK: u8 = 0;
const PANICKED: u8 = 1;
const ARG_DECODE: u8 = 2;
const RESULT_ENCODE: u8 = 3;

/// Appends a `u32` length placeholder; [`end_len`] fills it in.
fn begin_len(out: &mut Vec<u8>) -> usize {
    out.extend_from_slice(&[0; 4]);
    out.len()
}

/// Writes the number of bytes since `start` into the placeholder before it.
fn end_len(out: &mut [u8], start: usize) -> Result<(), String> {
    let len = u32::try_from(out.len() - start)
        .map_err(|_| format!("an item of {} bytes is over 4 GiB", out.len() - start))?;
    out[start - 4..start].copy_from_slice(&len.to_le_bytes());
    Ok(())
}

fn count(n: usize) -> Result<[u8; 4], String> {
    u32::try_from(n)
        .map(u32::to_le_bytes)
        .map_err(|_| format!("a chunk of {n} items is too long"))
}

/// Appends the arguments of a chunk (in the parent). Fails on the first item
/// that cannot be encoded, as `submit` does for one argument.
pub(crate) fn encode_arguments<A: Serialize>(
    items: &[A],
    out: &mut Vec<u8>,
) -> Result<(), SerdeError> {
    let overflow = |m: String| SerdeError::new(SerdeStage::ArgumentEncode, m);
    out.extend_from_slice(&count(items.len()).map_err(overflow)?);
    for (i, item) in items.iter().enumerate() {
        let start = begin_len(out);
        codec::encode_into(item, out, SerdeStage::ArgumentEncode).map_err(|e| {
            SerdeError::new(e.stage(), format!("item {i} of the chunk: {}", e.message()))
        })?;
        end_len(out, start).map_err(overflow)?;
    }
    Ok(())
}

/// A cursor over a frame of this file's form.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("the chunk frame ends early".into());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u32(&mut self) -> Result<usize, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = self.u32()?;
        self.take(n)
    }

    /// The item count, checked against the bytes left (each item takes at
    /// least `min` bytes), so a corrupt count allocates nothing big.
    fn count(&mut self, min: usize) -> Result<usize, String> {
        let n = self.u32()?;
        if n > self.0.len() / min {
            return Err(format!(
                "the chunk frame claims {n} items in {} bytes",
                self.0.len()
            ));
        }
        Ok(n)
    }

    fn finish(&self) -> Result<(), String> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err("trailing bytes after the chunk frame".into())
        }
    }
}

/// Runs `f` on each argument of a chunk (in the worker) and appends each
/// outcome to `out`: an argument that does not decode, a call that panics
/// and a result that does not encode each fail their own item.
pub(crate) fn run_items<A: DeserializeOwned, R: Serialize>(
    f: fn(A) -> R,
    arg: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), SerdeError> {
    let malformed = |m: String| SerdeError::new(SerdeStage::ArgumentDecode, m);
    let mut r = Reader(arg);
    let n = r.count(4).map_err(malformed)?;
    let items = (0..n).map(|_| r.bytes()).collect::<Result<Vec<_>, _>>();
    let items = items.map_err(malformed)?;
    r.finish().map_err(malformed)?;
    out.extend_from_slice(&count(n).map_err(malformed)?);
    for bytes in items {
        let mark = out.len();
        out.push(OK);
        let start = begin_len(out);
        let failure = match codec::decode::<A>(bytes, SerdeStage::ArgumentDecode) {
            Err(e) => Some((ARG_DECODE, e.message().to_owned())),
            Ok(a) => match catch_unwind(AssertUnwindSafe(move || f(a))) {
                Err(p) => Some((PANICKED, codec::panic_message(p.as_ref()))),
                Ok(v) => codec::encode_into(&v, out, SerdeStage::ResultEncode)
                    .err()
                    .map(|e| e.message().to_owned())
                    .or_else(|| end_len(out, start).err())
                    .map(|m| (RESULT_ENCODE, m)),
            },
        };
        if let Some((tag, message)) = failure {
            out.truncate(mark);
            out.push(tag);
            let start = begin_len(out);
            out.extend_from_slice(message.as_bytes());
            end_len(out, start).map_err(|m| SerdeError::new(SerdeStage::ResultEncode, m))?;
        }
    }
    Ok(())
}

/// Decodes each outcome of a chunk (in the parent): a result that does not
/// decode fails its own item.
pub(crate) fn decode_results<R: DeserializeOwned>(
    payload: &[u8],
) -> Result<Vec<Result<R, TaskError>>, SerdeError> {
    let malformed = |m: String| SerdeError::new(SerdeStage::ResultDecode, m);
    let mut r = Reader(payload);
    let n = r.count(5).map_err(malformed)?;
    let mut results = Vec::with_capacity(n);
    for _ in 0..n {
        let tag = r.u8().map_err(malformed)?;
        let bytes = r.bytes().map_err(malformed)?;
        let message = || String::from_utf8_lossy(bytes).into_owned();
        results.push(match tag {
            OK => codec::decode::<R>(bytes, SerdeStage::ResultDecode).map_err(TaskError::error),
            PANICKED => Err(TaskError::panic(message())),
            ARG_DECODE => Err(TaskError::error(SerdeError::new(
                SerdeStage::ArgumentDecode,
                message(),
            ))),
            RESULT_ENCODE => Err(TaskError::error(SerdeError::new(
                SerdeStage::ResultEncode,
                message(),
            ))),
            other => return Err(malformed(format!("unknown item tag {other}"))),
        });
    }
    r.finish().map_err(malformed)?;
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn half(x: u32) -> u32 {
        assert!(x != 7, "seven");
        x / 2
    }

    #[test]
    fn items_round_trip_and_fail_alone() {
        // A fourth item that is not a u32: its own argument-decode failure.
        let mut bad = Vec::new();
        encode_arguments(&[2u32, 7, 10], &mut bad).unwrap();
        let mut s = Vec::new();
        codec::encode_into(&"text", &mut s, SerdeStage::ArgumentEncode).unwrap();
        let mut frame = Vec::new();
        frame.extend_from_slice(&4u32.to_le_bytes());
        frame.extend_from_slice(&bad[4..]);
        frame.extend_from_slice(&(s.len() as u32).to_le_bytes());
        frame.extend_from_slice(&s);
        let mut out = Vec::new();
        run_items::<u32, u32>(half, &frame, &mut out).unwrap();
        let got = decode_results::<u32>(&out).unwrap();
        assert_eq!(got.len(), 4);
        assert_eq!(got[0].as_ref().ok(), Some(&1));
        assert!(got[1].as_ref().unwrap_err().is_panic(), "{:?}", got[1]);
        assert_eq!(got[2].as_ref().ok(), Some(&5));
        let e = got[3].as_ref().unwrap_err();
        let serde = e.downcast_ref::<SerdeError>().expect("a serde error");
        assert_eq!(serde.stage(), SerdeStage::ArgumentDecode);
        // A result that does not decode as the parent's type: that item only.
        let got = decode_results::<String>(&out).unwrap();
        assert!(got.iter().all(Result::is_err));
    }

    #[test]
    fn malformed_frames_are_errors() {
        let mut out = Vec::new();
        for frame in [&[1u8][..], &[9, 0, 0, 0, 1, 0, 0, 0, 0], &[0, 0, 0, 0, 1]] {
            assert!(run_items::<u32, u32>(half, frame, &mut out).is_err());
            assert!(decode_results::<u32>(frame).is_err());
        }
        assert!(
            decode_results::<u32>(&[1, 0, 0, 0, 9, 0, 0, 0, 0]).is_err(),
            "bad tag"
        );
    }
}
