//! The one module that knows the wire codec (bincode 1, varint integers,
//! little-endian, trailing bytes rejected): task arguments and results cross
//! the process boundary through [`encode_into`] and [`decode`]. Bincode keeps
//! the message of a custom serde error, so a user's `Error::custom("...")`
//! reaches the future.
//!
//! Every failure, including a `Serialize`/`Deserialize` impl that panics,
//! becomes a [`SerdeError`] naming the stage it happened at.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Where a value failed to cross the process boundary.
///
/// # Examples
///
/// ```
/// use concurrent_futures_pool::process::SerdeStage;
/// assert_eq!(SerdeStage::ArgumentDecode.to_string(), "deserializing the argument in the worker");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SerdeStage {
    /// Serializing the task's argument in the parent (`submit` reports it).
    ArgumentEncode,
    /// Deserializing the argument in the worker process.
    ArgumentDecode,
    /// Serializing the task's result in the worker process.
    ResultEncode,
    /// Deserializing the result in the parent.
    ResultDecode,
}

impl fmt::Display for SerdeStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SerdeStage::ArgumentEncode => "serializing the argument in the parent",
            SerdeStage::ArgumentDecode => "deserializing the argument in the worker",
            SerdeStage::ResultEncode => "serializing the result in the worker",
            SerdeStage::ResultDecode => "deserializing the result in the parent",
        })
    }
}

/// A task's argument or result could not be serialized or deserialized.
///
/// A failed process task keeps it as its [`TaskError::Error`]; find it with
/// `TaskError::downcast_ref::<SerdeError>()`.
///
/// [`TaskError::Error`]: concurrent_futures_core::TaskError::Error
///
/// # Examples
///
/// ```
/// use concurrent_futures_pool::process::{SerdeError, SerdeStage};
/// let e = SerdeError::new(SerdeStage::ResultEncode, "map keys must be strings");
/// assert_eq!(e.stage(), SerdeStage::ResultEncode);
/// assert_eq!(
///     e.to_string(),
///     "error while serializing the result in the worker: map keys must be strings"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SerdeError {
    stage: SerdeStage,
    message: String,
}

impl SerdeError {
    /// A failure at `stage`, described by `message`.
    #[must_use]
    pub fn new(stage: SerdeStage, message: impl Into<String>) -> Self {
        SerdeError {
            stage,
            message: message.into(),
        }
    }

    /// The stage that failed.
    #[must_use]
    pub fn stage(&self) -> SerdeStage {
        self.stage
    }

    /// What the codec (or the panicking impl) said.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for SerdeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error while {}: {}", self.stage, self.message)
    }
}

impl std::error::Error for SerdeError {}

pub(crate) use concurrent_futures_core::panic_message;

fn options() -> impl bincode::Options {
    use bincode::Options as _;
    bincode::DefaultOptions::new().reject_trailing_bytes()
}

/// Appends the encoding of `value` to `out` (which may already hold a frame
/// header). On failure the contents of `out` are unspecified: callers drop it.
pub(crate) fn encode_into<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
    stage: SerdeStage,
) -> Result<(), SerdeError> {
    use bincode::Options as _;
    match catch_unwind(AssertUnwindSafe(|| {
        options().serialize_into(&mut *out, value)
    })) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(SerdeError::new(stage, e.to_string())),
        Err(p) => Err(SerdeError::new(
            stage,
            format!("Serialize panicked: {}", panic_message(p.as_ref())),
        )),
    }
}

/// Decodes a `T` from exactly `bytes` (trailing bytes are an error).
pub(crate) fn decode<T: DeserializeOwned>(
    bytes: &[u8],
    stage: SerdeStage,
) -> Result<T, SerdeError> {
    use bincode::Options as _;
    match catch_unwind(AssertUnwindSafe(|| options().deserialize::<T>(bytes))) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(SerdeError::new(stage, e.to_string())),
        Err(p) => Err(SerdeError::new(
            stage,
            format!("Deserialize panicked: {}", panic_message(p.as_ref())),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_trailing_bytes() {
        let mut out = vec![9, 9];
        encode_into(
            &(1u32, "two".to_owned()),
            &mut out,
            SerdeStage::ArgumentEncode,
        )
        .unwrap();
        assert_eq!(&out[..2], &[9, 9]);
        let v: (u32, String) = decode(&out[2..], SerdeStage::ArgumentDecode).unwrap();
        assert_eq!(v, (1, "two".to_owned()));
        out.push(0);
        let e = decode::<(u32, String)>(&out[2..], SerdeStage::ArgumentDecode).unwrap_err();
        assert_eq!(e.stage(), SerdeStage::ArgumentDecode);
        assert!(decode::<u64>(&[0xff; 3], SerdeStage::ResultDecode).is_err());
    }

    #[test]
    fn custom_messages_survive() {
        struct Refuse;
        impl Serialize for Refuse {
            fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                Err(serde::ser::Error::custom("no thanks"))
            }
        }
        let e = encode_into(&Refuse, &mut Vec::new(), SerdeStage::ResultEncode).unwrap_err();
        assert_eq!(e.message(), "no thanks");
    }

    #[test]
    fn hostile_lengths_do_not_allocate_wildly() {
        // A Vec length prefix of 2^60 with no data behind it.
        let mut bytes = Vec::new();
        encode_into(&(1u64 << 60), &mut bytes, SerdeStage::ArgumentEncode).unwrap();
        assert!(decode::<Vec<u64>>(&bytes, SerdeStage::ArgumentDecode).is_err());
    }
}
