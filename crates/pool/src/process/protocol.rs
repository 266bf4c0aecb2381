//! The wire protocol between the parent and a worker process: length-prefixed
//! frames on a private socket (never the worker's stdin or stdout).
//!
//! ```text
//! offset  size  field
//! 0       4     len   payload length, u32 little-endian, checked against the
//!                     limit before anything is allocated
//! 4       1     kind  FrameKind
//! 5       8     id    task id (u64 LE), 0 for READY / INIT_FAILED
//! 13      len   payload
//! ```
//!
//! | kind | dir | payload |
//! |---|---|---|
//! | `TASK` (1) | parent → worker | fn offset (i64 LE), trampoline offset (i64 LE), encoded argument |
//! | `READY` (2) | worker → parent | the 16-byte token from the parent, then the worker's pid (u32 LE) |
//! | `INIT_FAILED` (3) | worker → parent | the initializer's error, UTF-8 |
//! | `OK` (4) | worker → parent | the encoded result |
//! | `FAILED` (5) | worker → parent | failure code (u8: 0 panic, 1 argument decode, 2 result encode), UTF-8 message |
//! | `INIT` (6) | parent → worker | the initializer's encoded argument (empty for `fn()`), sent once before `READY` when there is an initializer |
//!
//! The parent ends a worker by closing its end (end-of-file): the worker
//! exits with code 0.
//!
//! Payloads are typed here and nowhere else: [`ToWorker`] and [`FromWorker`]
//! are the messages, each with one encoder and one decoder in this file
//! (`encode_to_worker` / `decode_to_worker`, `encode_from_worker` /
//! `decode_from_worker`, plus [`task_frame`] and [`ok_frame`], which let the
//! codec append an argument or result in place, without a copy). Both
//! decoders are fuzzed (`fuzz/`), and a stable test replays the corpus.

use std::fmt;
use std::io::{self, Read};

/// Size of a frame header.
pub(crate) const HEADER_LEN: usize = 13;

/// What a frame carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FrameKind {
    Task,
    Ready,
    InitFailed,
    Ok,
    Failed,
    Init,
}

impl FrameKind {
    fn to_byte(self) -> u8 {
        match self {
            FrameKind::Task => 1,
            FrameKind::Ready => 2,
            FrameKind::InitFailed => 3,
            FrameKind::Ok => 4,
            FrameKind::Failed => 5,
            FrameKind::Init => 6,
        }
    }

    fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            1 => FrameKind::Task,
            2 => FrameKind::Ready,
            3 => FrameKind::InitFailed,
            4 => FrameKind::Ok,
            5 => FrameKind::Failed,
            6 => FrameKind::Init,
            _ => return None,
        })
    }
}

/// The largest handshake frame (`READY`, or `INIT_FAILED` with a message
/// cut to [`MAX_MESSAGE`]).
pub(crate) const HANDSHAKE_MAX: usize = MAX_MESSAGE + 64;

/// Failure messages (`FAILED`, `INIT_FAILED`) are cut to this many bytes.
pub(crate) const MAX_MESSAGE: usize = 64 * 1024;

/// Why a task failed inside the worker (a `FAILED` frame's code byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FailCode {
    /// The task panicked (0).
    Panic,
    /// The argument could not be deserialized (1).
    ArgDecode,
    /// The result could not be serialized, or was over the limit (2).
    ResultEncode,
}

impl FailCode {
    fn to_byte(self) -> u8 {
        match self {
            FailCode::Panic => 0,
            FailCode::ArgDecode => 1,
            FailCode::ResultEncode => 2,
        }
    }

    fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            0 => FailCode::Panic,
            1 => FailCode::ArgDecode,
            2 => FailCode::ResultEncode,
            _ => return None,
        })
    }
}

/// A message from the parent to a worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ToWorker<'a> {
    /// The initializer's encoded argument, once, before `READY`.
    Init { arg: &'a [u8] },
    /// Run the function at offset `f` through the trampoline at offset
    /// `trampoline` on the encoded argument `arg`.
    Task {
        id: u64,
        f: i64,
        trampoline: i64,
        arg: &'a [u8],
    },
}

/// A worker's answer to one task.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Reply {
    pub(crate) id: u64,
    pub(crate) body: ReplyBody,
}

/// What a task came to in the worker.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ReplyBody {
    /// The encoded result.
    Ok(Vec<u8>),
    /// Why it failed, and the message (UTF-8).
    Failed { code: FailCode, message: String },
}

/// A message from a worker to the parent.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FromWorker {
    /// Started: the parent's token and the worker's pid.
    Ready { token: [u8; 16], pid: u32 },
    /// The initializer failed with this message.
    InitFailed { message: String },
    /// The answer to a task.
    Reply(Reply),
}

impl FromWorker {
    /// The frame kind's name, for error messages.
    pub(crate) fn kind_name(&self) -> &'static str {
        match self {
            FromWorker::Ready { .. } => "READY",
            FromWorker::InitFailed { .. } => "INIT_FAILED",
            FromWorker::Reply(Reply {
                body: ReplyBody::Ok(_),
                ..
            }) => "OK",
            FromWorker::Reply(_) => "FAILED",
        }
    }
}

fn kind_name(kind: FrameKind) -> &'static str {
    match kind {
        FrameKind::Task => "TASK",
        FrameKind::Ready => "READY",
        FrameKind::InitFailed => "INIT_FAILED",
        FrameKind::Ok => "OK",
        FrameKind::Failed => "FAILED",
        FrameKind::Init => "INIT",
    }
}

fn malformed(kind: FrameKind, what: &str) -> String {
    format!("malformed {} frame: {what}", kind_name(kind))
}

fn unexpected(kind: FrameKind) -> String {
    format!("unexpected {} frame", kind_name(kind))
}

/// Cuts `message` to [`MAX_MESSAGE`] bytes at a character boundary.
fn cut(message: &str) -> &str {
    let mut end = message.len().min(MAX_MESSAGE);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    &message[..end]
}

/// The one encoder of parent-to-worker messages.
pub(crate) fn encode_to_worker(m: &ToWorker<'_>) -> Vec<u8> {
    let fb = match *m {
        ToWorker::Init { arg } => {
            let mut fb = FrameBuf::new(FrameKind::Init, 0, arg.len());
            fb.buf.extend_from_slice(arg);
            fb
        }
        ToWorker::Task {
            id,
            f,
            trampoline,
            arg,
        } => {
            let mut fb = task_frame(id, f, trampoline);
            fb.buf.extend_from_slice(arg);
            fb
        }
    };
    fb.finish_unchecked()
}

/// A `TASK` frame with its header and offsets written, for the codec to
/// append the argument to (then [`FrameBuf::finish`]).
pub(crate) fn task_frame(id: u64, f: i64, trampoline: i64) -> FrameBuf {
    let mut fb = FrameBuf::new(FrameKind::Task, id, 64);
    fb.buf.extend_from_slice(&f.to_le_bytes());
    fb.buf.extend_from_slice(&trampoline.to_le_bytes());
    fb
}

/// The one decoder of parent-to-worker messages (it borrows the payload).
///
/// # Errors
///
/// A message naming what is wrong (a kind the parent never sends, a short
/// `TASK` payload).
pub(crate) fn decode_to_worker(frame: &Frame) -> Result<ToWorker<'_>, String> {
    match frame.kind {
        FrameKind::Init if frame.id == 0 => Ok(ToWorker::Init {
            arg: &frame.payload,
        }),
        FrameKind::Task => {
            let p = &frame.payload;
            let (Some(f), Some(t)) = (p.get(0..8), p.get(8..16)) else {
                return Err(malformed(frame.kind, "shorter than its two offsets"));
            };
            Ok(ToWorker::Task {
                id: frame.id,
                f: i64::from_le_bytes(f.try_into().expect("8 bytes")),
                trampoline: i64::from_le_bytes(t.try_into().expect("8 bytes")),
                arg: &p[16..],
            })
        }
        FrameKind::Init => Err(malformed(frame.kind, "non-zero id")),
        k => Err(unexpected(k)),
    }
}

/// An `OK` frame with its header written, for the codec to append the
/// result to (then [`FrameBuf::finish`]).
pub(crate) fn ok_frame(id: u64) -> FrameBuf {
    FrameBuf::new(FrameKind::Ok, id, 0)
}

/// The one encoder of worker-to-parent messages. Messages are cut to
/// [`MAX_MESSAGE`] bytes.
pub(crate) fn encode_from_worker(m: &FromWorker) -> Vec<u8> {
    let fb = match m {
        FromWorker::Ready { token, pid } => {
            let mut fb = FrameBuf::new(FrameKind::Ready, 0, 20);
            fb.buf.extend_from_slice(token);
            fb.buf.extend_from_slice(&pid.to_le_bytes());
            fb
        }
        FromWorker::InitFailed { message } => {
            let message = cut(message);
            let mut fb = FrameBuf::new(FrameKind::InitFailed, 0, message.len());
            fb.buf.extend_from_slice(message.as_bytes());
            fb
        }
        FromWorker::Reply(Reply { id, body }) => match body {
            ReplyBody::Ok(result) => {
                let mut fb = ok_frame(*id);
                fb.buf.extend_from_slice(result);
                fb
            }
            ReplyBody::Failed { code, message } => {
                let message = cut(message);
                let mut fb = FrameBuf::new(FrameKind::Failed, *id, 1 + message.len());
                fb.buf.push(code.to_byte());
                fb.buf.extend_from_slice(message.as_bytes());
                fb
            }
        },
    };
    fb.finish_unchecked()
}

/// The one decoder of worker-to-parent messages (it takes the payload, so
/// an `OK` result is not copied).
///
/// # Errors
///
/// A message naming what is wrong: a kind a worker never sends, a `READY`
/// of the wrong size, an unknown failure code, a message that is not UTF-8.
pub(crate) fn decode_from_worker(frame: Frame) -> Result<FromWorker, String> {
    let Frame { kind, id, payload } = frame;
    let text = |bytes: Vec<u8>| {
        String::from_utf8(bytes).map_err(|_| malformed(kind, "the message is not UTF-8"))
    };
    match kind {
        FrameKind::Ready if id == 0 && payload.len() == 20 => Ok(FromWorker::Ready {
            token: payload[..16].try_into().expect("16 bytes"),
            pid: u32::from_le_bytes(payload[16..].try_into().expect("4 bytes")),
        }),
        FrameKind::Ready => Err(malformed(kind, "not a 16-byte token and a pid")),
        FrameKind::InitFailed => Ok(FromWorker::InitFailed {
            message: text(payload)?,
        }),
        FrameKind::Ok => Ok(FromWorker::Reply(Reply {
            id,
            body: ReplyBody::Ok(payload),
        })),
        FrameKind::Failed => {
            let Some((&c, _)) = payload.split_first() else {
                return Err(malformed(kind, "no failure code"));
            };
            let code = FailCode::from_byte(c)
                .ok_or_else(|| malformed(kind, &format!("unknown failure code {c}")))?;
            let mut payload = payload;
            payload.remove(0);
            Ok(FromWorker::Reply(Reply {
                id,
                body: ReplyBody::Failed {
                    code,
                    message: text(payload)?,
                },
            }))
        }
        k => Err(unexpected(k)),
    }
}

/// One received frame.
#[derive(Debug)]
pub(crate) struct Frame {
    pub(crate) kind: FrameKind,
    pub(crate) id: u64,
    pub(crate) payload: Vec<u8>,
}

/// Why no frame could be read.
#[derive(Debug)]
pub(crate) enum FrameError {
    /// End-of-file before the first byte of a frame: the peer closed.
    Closed,
    /// End-of-file inside a frame (`got` of `want` bytes of the header or payload).
    Truncated { got: usize, want: usize },
    /// The header announced more than the limit.
    TooLarge { len: u64, max: usize },
    /// The header's kind byte is not a known kind.
    UnknownKind(u8),
    /// The read failed (includes `TimedOut` from a deadline reader).
    Io(io::Error),
    /// A well-framed message whose payload is wrong for its kind.
    Malformed(String),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Closed => f.write_str("connection closed"),
            FrameError::Truncated { got, want } => {
                write!(
                    f,
                    "connection closed inside a frame ({got} of {want} bytes)"
                )
            }
            FrameError::TooLarge { len, max } => {
                write!(f, "frame length {len} exceeds the limit of {max} bytes")
            }
            FrameError::UnknownKind(k) => write!(f, "unknown frame kind {k}"),
            FrameError::Io(e) => write!(f, "read failed: {e}"),
            FrameError::Malformed(m) => f.write_str(m),
        }
    }
}

/// A worker process broke the wire protocol (garbage, an unknown frame kind,
/// a frame over the size limit, a reply for another task); it was killed and
/// replaced, and the task it held fails with this error.
///
/// # Examples
///
/// ```
/// use concurrent_futures::process::ProtocolError;
/// let e = ProtocolError::new(42, "unknown frame kind 99");
/// assert_eq!(e.pid(), 42);
/// assert_eq!(
///     e.to_string(),
///     "worker process 42 broke the protocol (unknown frame kind 99) and was killed"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtocolError {
    pid: u32,
    message: String,
}

impl ProtocolError {
    /// Worker `pid` broke the protocol as `message` says.
    #[must_use]
    pub fn new(pid: u32, message: impl Into<String>) -> Self {
        ProtocolError {
            pid,
            message: message.into(),
        }
    }

    /// The worker's pid.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// What was wrong.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "worker process {} broke the protocol ({}) and was killed",
            self.pid, self.message
        )
    }
}

impl std::error::Error for ProtocolError {}

/// Fills `buf` completely. `Ok(n < buf.len())` means end-of-file after `n` bytes.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Reads one frame whose payload is at most `max` bytes, or, for a failure
/// (`FAILED`, `INIT_FAILED`), at most what its message cut to
/// [`MAX_MESSAGE`] needs, whatever `max` is: `max_frame_size` bounds the
/// user's arguments and results, not the pool's own bounded messages (a
/// long panic message under a small limit once made a healthy worker look
/// like a protocol breach). The length is checked before the payload
/// buffer is allocated.
pub(crate) fn read_frame(r: &mut impl Read, max: usize) -> Result<Frame, FrameError> {
    let mut header = [0u8; HEADER_LEN];
    let got = read_full(r, &mut header).map_err(FrameError::Io)?;
    if got == 0 {
        return Err(FrameError::Closed);
    }
    if got < HEADER_LEN {
        return Err(FrameError::Truncated {
            got,
            want: HEADER_LEN,
        });
    }
    let len = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes")) as usize;
    let kind = FrameKind::from_byte(header[4]).ok_or(FrameError::UnknownKind(header[4]))?;
    let id = u64::from_le_bytes(header[5..13].try_into().expect("8 bytes"));
    let max = match kind {
        FrameKind::Failed | FrameKind::InitFailed => max.max(1 + MAX_MESSAGE),
        _ => max,
    };
    if len > max {
        return Err(FrameError::TooLarge {
            len: len as u64,
            max,
        });
    }
    let mut payload = vec![0u8; len];
    let got = read_full(r, &mut payload).map_err(FrameError::Io)?;
    if got < len {
        return Err(FrameError::Truncated {
            got: HEADER_LEN + got,
            want: HEADER_LEN + len,
        });
    }
    Ok(Frame { kind, id, payload })
}

/// A frame being built: the header is reserved first, the payload appended,
/// then [`finish`](FrameBuf::finish) writes the length in.
#[derive(Debug)]
pub(crate) struct FrameBuf {
    pub(crate) buf: Vec<u8>,
}

impl FrameBuf {
    pub(crate) fn new(kind: FrameKind, id: u64, capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(HEADER_LEN + capacity);
        buf.extend_from_slice(&[0; 4]);
        buf.push(kind.to_byte());
        buf.extend_from_slice(&id.to_le_bytes());
        FrameBuf { buf }
    }

    /// Writes the payload length into the header.
    ///
    /// # Errors
    ///
    /// `TooLarge` if the payload is over `max` (or over `u32::MAX`).
    pub(crate) fn finish(mut self, max: usize) -> Result<Vec<u8>, FrameError> {
        let len = self.buf.len() - HEADER_LEN;
        if len > max || u32::try_from(len).is_err() {
            return Err(FrameError::TooLarge {
                len: len as u64,
                max,
            });
        }
        self.buf[0..4].copy_from_slice(&(len as u32).to_le_bytes());
        Ok(self.buf)
    }

    /// [`finish`](Self::finish) for frames this module built to a known
    /// bound (handshakes, messages cut to [`MAX_MESSAGE`], test frames).
    fn finish_unchecked(self) -> Vec<u8> {
        self.finish(u32::MAX as usize).expect("a frame under 4 GiB")
    }
}

/// Builds and writes a frame with a byte payload in one `write_all`.
#[cfg(test)]
pub(crate) fn write_frame(
    w: &mut impl std::io::Write,
    kind: FrameKind,
    id: u64,
    payload: &[u8],
) -> io::Result<()> {
    let mut f = FrameBuf::new(kind, id, payload.len());
    f.buf.extend_from_slice(payload);
    let bytes = f
        .finish(u32::MAX as usize)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    w.write_all(&bytes)
}

/// Entry points for the fuzz targets (`fuzz/`) and the corpus test: each
/// reads frames from `bytes` as one side of the connection would, decodes
/// them with that side's decoder, and decodes `OK` payloads with the codec.
/// Never panics; every error is an `Err` that the caller drops.
#[doc(hidden)]
pub mod fuzz_entry {
    use super::*;

    /// The limit the fuzz targets read with: small, so that length checks
    /// are reached.
    const MAX: usize = 1 << 16;

    /// The worker's side: frames from the parent.
    pub fn to_worker(mut bytes: &[u8]) {
        for _ in 0..16 {
            let Ok(frame) = read_frame(&mut bytes, MAX) else {
                return;
            };
            assert!(frame.payload.len() <= MAX);
            if let Ok(ToWorker::Task { arg, .. }) = decode_to_worker(&frame) {
                let _ = crate::process::codec::decode::<serde::de::IgnoredAny>(
                    arg,
                    crate::process::SerdeStage::ArgumentDecode,
                );
            }
        }
    }

    /// The parent's side: frames from a worker.
    pub fn from_worker(mut bytes: &[u8]) {
        for _ in 0..16 {
            let Ok(frame) = read_frame(&mut bytes, MAX) else {
                return;
            };
            assert!(frame.payload.len() <= MAX);
            match decode_from_worker(frame) {
                Ok(FromWorker::Reply(Reply {
                    body: ReplyBody::Ok(result),
                    ..
                })) => {
                    let _ = crate::process::codec::decode::<serde::de::IgnoredAny>(
                        &result,
                        crate::process::SerdeStage::ResultDecode,
                    );
                }
                Ok(m) => {
                    // What was decoded re-encodes to a frame that decodes
                    // the same.
                    let again = encode_from_worker(&m);
                    let f = read_frame(&mut &again[..], usize::MAX).expect("re-encoded frame");
                    assert_eq!(decode_from_worker(f).as_ref(), Ok(&m));
                }
                Err(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, id: u64, len: u32, payload: &[u8]) -> Vec<u8> {
        let mut v = len.to_le_bytes().to_vec();
        v.push(kind);
        v.extend_from_slice(&id.to_le_bytes());
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn round_trip() {
        let mut wire = Vec::new();
        write_frame(&mut wire, FrameKind::Ok, 7, b"hello").unwrap();
        write_frame(&mut wire, FrameKind::Failed, 8, b"").unwrap();
        let mut r = &wire[..];
        let f = read_frame(&mut r, 100).unwrap();
        assert_eq!(
            (f.kind, f.id, &f.payload[..]),
            (FrameKind::Ok, 7, &b"hello"[..])
        );
        let f = read_frame(&mut r, 100).unwrap();
        assert_eq!((f.kind, f.id, f.payload.len()), (FrameKind::Failed, 8, 0));
        assert!(matches!(read_frame(&mut r, 100), Err(FrameError::Closed)));
    }

    #[test]
    fn oversized_length_is_refused_before_allocating() {
        let wire = frame(4, 1, u32::MAX, b"");
        match read_frame(&mut &wire[..], 1 << 20) {
            Err(FrameError::TooLarge { len, max }) => {
                assert_eq!((len, max), (u32::MAX as u64, 1 << 20));
            }
            other => panic!("expected TooLarge, got {other:?}"),
        }
    }

    #[test]
    fn unknown_kind_and_truncation() {
        let wire = frame(99, 1, 0, b"");
        assert!(matches!(
            read_frame(&mut &wire[..], 10),
            Err(FrameError::UnknownKind(99))
        ));
        let wire = frame(4, 1, 10, b"abc");
        assert!(matches!(
            read_frame(&mut &wire[..], 100),
            Err(FrameError::Truncated { got: 16, want: 23 })
        ));
        let wire = [1u8, 2, 3];
        assert!(matches!(
            read_frame(&mut &wire[..], 100),
            Err(FrameError::Truncated { got: 3, want: 13 })
        ));
    }

    #[test]
    fn finish_checks_the_limit() {
        let mut f = FrameBuf::new(FrameKind::Task, 1, 0);
        f.buf.extend_from_slice(&[0; 11]);
        assert!(matches!(
            f.finish(10),
            Err(FrameError::TooLarge { len: 11, max: 10 })
        ));
    }

    /// A small fuzz of the decoder: random byte strings (and random
    /// mutations of valid frames) never panic, and never yield a payload
    /// over the limit.
    #[test]
    fn decoder_fuzz() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..20_000 {
            let mut wire = Vec::new();
            if round % 2 == 0 {
                write_frame(&mut wire, FrameKind::Ok, next(), &[7; 20]).unwrap();
                let at = (next() % wire.len() as u64) as usize;
                wire[at] = next() as u8;
                wire.truncate((next() % (wire.len() as u64 + 1)) as usize);
            } else {
                let n = (next() % 64) as usize;
                wire.extend((0..n).map(|_| next() as u8));
            }
            let mut r = &wire[..];
            for _ in 0..4 {
                match read_frame(&mut r, 32) {
                    Ok(f) => assert!(f.payload.len() <= 32),
                    Err(_) => break,
                }
            }
        }
    }

    #[test]
    fn typed_messages_round_trip() {
        let to = [
            ToWorker::Init { arg: b"init" },
            ToWorker::Task {
                id: 7,
                f: -123,
                trampoline: 456,
                arg: b"\x93\x01\x02\x03",
            },
        ];
        for m in to {
            let bytes = encode_to_worker(&m);
            let frame = read_frame(&mut &bytes[..], 1024).unwrap();
            assert_eq!(decode_to_worker(&frame), Ok(m));
        }
        let from = [
            FromWorker::Ready {
                token: [3; 16],
                pid: 4242,
            },
            FromWorker::InitFailed {
                message: "no database".into(),
            },
            FromWorker::Reply(Reply {
                id: 9,
                body: ReplyBody::Ok(vec![1, 2, 3]),
            }),
            FromWorker::Reply(Reply {
                id: 10,
                body: ReplyBody::Failed {
                    code: FailCode::ArgDecode,
                    message: "bad ✓".into(),
                },
            }),
        ];
        for m in from {
            let bytes = encode_from_worker(&m);
            let frame = read_frame(&mut &bytes[..], 1024).unwrap();
            assert_eq!(decode_from_worker(frame), Ok(m));
        }
    }

    #[test]
    fn malformed_payloads_are_named() {
        let f = |kind, id, payload: &[u8]| Frame {
            kind,
            id,
            payload: payload.to_vec(),
        };
        let e = decode_to_worker(&f(FrameKind::Task, 1, &[0; 15])).unwrap_err();
        assert!(e.contains("shorter than its two offsets"), "{e}");
        assert!(decode_to_worker(&f(FrameKind::Ok, 1, b"")).is_err());
        let e = decode_from_worker(f(FrameKind::Failed, 1, &[9, b'x'])).unwrap_err();
        assert!(e.contains("unknown failure code 9"), "{e}");
        assert!(decode_from_worker(f(FrameKind::Failed, 1, &[])).is_err());
        assert!(decode_from_worker(f(FrameKind::Failed, 1, &[0, 0xff])).is_err());
        assert!(decode_from_worker(f(FrameKind::Ready, 0, &[0; 19])).is_err());
        assert!(decode_from_worker(f(FrameKind::Task, 1, &[0; 16])).is_err());
        // Messages are cut to the limit, at a character boundary.
        let long = FromWorker::InitFailed {
            message: "é".repeat(MAX_MESSAGE),
        };
        let bytes = encode_from_worker(&long);
        assert!(bytes.len() <= HANDSHAKE_MAX + HEADER_LEN);
        let frame = read_frame(&mut &bytes[..], HANDSHAKE_MAX).unwrap();
        assert!(decode_from_worker(frame).is_ok());
    }

    /// The fuzz corpus (`fuzz/corpus/`), replayed through both decoders on
    /// stable Rust, so the check runs without nightly and cargo-fuzz.
    #[test]
    fn fuzz_corpus_replays_clean() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
        let mut seen = 0;
        for (dir, entry) in [
            ("to_worker", fuzz_entry::to_worker as fn(&[u8])),
            ("from_worker", fuzz_entry::from_worker as fn(&[u8])),
        ] {
            let files = std::fs::read_dir(root.join(dir)).expect("the fuzz corpus");
            for file in files {
                let bytes = std::fs::read(file.unwrap().path()).unwrap();
                entry(&bytes);
                seen += 1;
            }
        }
        assert!(seen >= 10, "only {seen} corpus files");
    }

    /// Random bytes and mutated frames through both typed decoders.
    #[test]
    fn typed_decoder_fuzz() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let seeds = [
            encode_to_worker(&ToWorker::Task {
                id: 1,
                f: 2,
                trampoline: 3,
                arg: &[0x92, 0x01, 0xa1, b'x'],
            }),
            encode_from_worker(&FromWorker::Reply(Reply {
                id: 1,
                body: ReplyBody::Failed {
                    code: FailCode::Panic,
                    message: "boom".into(),
                },
            })),
            encode_from_worker(&FromWorker::Ready {
                token: [1; 16],
                pid: 2,
            }),
        ];
        for round in 0..20_000u64 {
            let mut wire = seeds[(round % 3) as usize].clone();
            for _ in 0..(next() % 4) {
                let at = (next() % wire.len() as u64) as usize;
                wire[at] = next() as u8;
            }
            wire.truncate((next() % (wire.len() as u64 + 1)) as usize);
            fuzz_entry::to_worker(&wire);
            fuzz_entry::from_worker(&wire);
        }
    }
}
