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

use std::fmt;
use std::io::{self, Read, Write};

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

/// Failure codes of a `FAILED` frame.
pub(crate) const FAIL_PANIC: u8 = 0;
pub(crate) const FAIL_ARG_DECODE: u8 = 1;
pub(crate) const FAIL_RESULT_ENCODE: u8 = 2;

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
/// use concurrent_futures_pool::process::ProtocolError;
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

/// Reads one frame whose payload is at most `max` bytes. The length is
/// checked before the payload buffer is allocated.
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
}

/// Builds and writes a frame with a byte payload in one `write_all`.
pub(crate) fn write_frame(
    w: &mut impl Write,
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

/// The body of a `TASK` frame: the function and trampoline offsets, then the
/// argument.
pub(crate) fn split_task(payload: &[u8]) -> Option<(i64, i64, &[u8])> {
    if payload.len() < 16 {
        return None;
    }
    let f = i64::from_le_bytes(payload[0..8].try_into().ok()?);
    let t = i64::from_le_bytes(payload[8..16].try_into().ok()?);
    Some((f, t, &payload[16..]))
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
}
