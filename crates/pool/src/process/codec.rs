//! The one module that knows the wire codec: MessagePack (`rmp-serde`) with
//! named struct fields, trailing bytes rejected. Task arguments and results
//! cross the process boundary through [`encode_into`] and [`decode`].
//!
//! Why MessagePack with named fields: the format is self-describing, so the
//! serde shapes that need `deserialize_any` cross intact
//! (`serde_json::Value`, `#[serde(untagged)]` enums, `#[serde(flatten)]`
//! fields), which bincode and postcard cannot carry; a user's
//! `Error::custom("...")` message reaches the future (postcard drops it);
//! the crate is maintained (bincode 1.3 is RUSTSEC-2025-0141, unmaintained);
//! and its decoder bounds nesting (depth 1024), so a hostile frame cannot
//! overflow the stack. `docs/process-pool.md` has the measurements.
//!
//! Every failure, including a `Serialize`/`Deserialize` impl that panics,
//! becomes a [`SerdeError`] naming the stage it happened at.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

use serde::de::{Deserialize, DeserializeOwned};
use serde::Serialize;

/// Where a value failed to cross the process boundary.
///
/// # Examples
///
/// ```
/// use concurrent_futures::process::SerdeStage;
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
/// use concurrent_futures::process::{SerdeError, SerdeStage};
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

/// Appends the encoding of `value` to `out` (which may already hold a frame
/// header). On failure the contents of `out` are unspecified: callers drop it.
pub(crate) fn encode_into<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
    stage: SerdeStage,
) -> Result<(), SerdeError> {
    match catch_unwind(AssertUnwindSafe(|| {
        rmp_serde::encode::write_named(&mut *out, value)
    })) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(SerdeError::new(stage, e.to_string())),
        Err(p) => Err(SerdeError::new(
            stage,
            format!("Serialize panicked: {}", panic_message(p.as_ref())),
        )),
    }
}

/// The deepest nesting of arrays and maps a decoded value may have
/// (serde_json's own limit): deeper input is an error. rmp does not count
/// enum and newtype levels, so a parent's slot thread also has a large
/// stack (`dispatcher.rs`, `SLOT_STACK`).
const MAX_DEPTH: usize = 128;

/// Decodes a `T` from exactly `bytes` (trailing bytes are an error).
pub(crate) fn decode<T: DeserializeOwned>(
    bytes: &[u8],
    stage: SerdeStage,
) -> Result<T, SerdeError> {
    match catch_unwind(AssertUnwindSafe(|| {
        let mut de = rmp_serde::Deserializer::from_read_ref(bytes);
        de.set_max_depth(MAX_DEPTH);
        let v = T::deserialize(&mut de)?;
        // Anything after the value is an error: try to read one more.
        match serde::de::IgnoredAny::deserialize(&mut de) {
            Err(rmp_serde::decode::Error::InvalidMarkerRead(e))
                if e.kind() == std::io::ErrorKind::UnexpectedEof =>
            {
                Ok(v)
            }
            _ => Err(rmp_serde::decode::Error::Syntax(
                "trailing bytes after the value".into(),
            )),
        }
    })) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(SerdeError::new(stage, e.to_string())),
        Err(p) => Err(SerdeError::new(
            stage,
            format!("Deserialize panicked: {}", panic_message(p.as_ref())),
        )),
    }
}

/// The codec for the workspace's other crates (the Slurm backend's task and
/// result files): the bytes the pool's frames carry, errors as their
/// messages. Not a public API.
pub mod external {
    use serde::de::DeserializeOwned;
    use serde::Serialize;

    use super::SerdeStage;

    /// Encodes `value` as the pool encodes an argument.
    ///
    /// # Errors
    ///
    /// The message of a `Serialize` failure or panic.
    pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        super::encode_into(value, &mut out, SerdeStage::ArgumentEncode)
            .map(|()| out)
            .map_err(|e| e.message().to_owned())
    }

    /// Decodes a `T` from exactly `bytes`, as the pool decodes a result.
    ///
    /// # Errors
    ///
    /// The message of a `Deserialize` failure or panic, or of trailing bytes.
    pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
        super::decode(bytes, SerdeStage::ResultDecode).map_err(|e| e.message().to_owned())
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

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    #[serde(untagged)]
    enum Untagged {
        Num(u64),
        Text(String),
        Pair { a: i32, b: Vec<u8> },
    }

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Inner {
        x: u8,
        y: Option<String>,
    }

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Flattened {
        name: String,
        #[serde(flatten)]
        inner: Inner,
        #[serde(flatten)]
        rest: std::collections::BTreeMap<String, serde_json::Value>,
    }

    fn round_trip<T>(v: &T) -> T
    where
        T: Serialize + DeserializeOwned,
    {
        let mut out = Vec::new();
        encode_into(v, &mut out, SerdeStage::ArgumentEncode).unwrap();
        decode(&out, SerdeStage::ArgumentDecode).unwrap()
    }

    /// The three shapes bincode could not carry (they need
    /// `deserialize_any`) cross intact.
    #[test]
    fn self_describing_shapes_round_trip() {
        let json: serde_json::Value = serde_json::json!({
            "n": 1, "neg": -2, "f": 1.5, "s": "x", "null": null,
            "arr": [true, false, [], {}], "nested": {"deep": [1, "two", 3.0]}
        });
        assert_eq!(round_trip(&json), json);
        for u in [
            Untagged::Num(7),
            Untagged::Text("seven".into()),
            Untagged::Pair {
                a: -7,
                b: vec![0, 255],
            },
        ] {
            assert_eq!(round_trip(&u), u);
        }
        let mut rest = std::collections::BTreeMap::new();
        rest.insert("extra".to_owned(), serde_json::json!([1, {"k": "v"}]));
        let f = Flattened {
            name: "n".into(),
            inner: Inner {
                x: 3,
                y: Some("why".into()),
            },
            rest,
        };
        assert_eq!(round_trip(&f), f);
        // Results of chunked maps, and the unit type.
        let chunk: Vec<Result<u64, String>> = vec![Ok(1), Err("boom".into())];
        assert_eq!(round_trip(&chunk), chunk);
        round_trip(&());
    }

    /// A custom `Deserialize` error keeps its words.
    #[test]
    fn custom_deserialize_messages_survive() {
        struct Refuse;
        impl<'de> serde::Deserialize<'de> for Refuse {
            fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
                Err(serde::de::Error::custom("Refuse refuses to deserialize"))
            }
        }
        let mut out = Vec::new();
        encode_into(&1u8, &mut out, SerdeStage::ArgumentEncode).unwrap();
        let e = decode::<Refuse>(&out, SerdeStage::ArgumentDecode)
            .err()
            .expect("refused");
        assert_eq!(e.message(), "Refuse refuses to deserialize");
    }

    /// Deeply nested input is refused, not a stack overflow.
    #[test]
    fn deep_nesting_is_refused() {
        // 100k one-element arrays (0x91) around a nil.
        let mut bytes = vec![0x91u8; 100_000];
        bytes.push(0xc0);
        assert!(decode::<serde_json::Value>(&bytes, SerdeStage::ResultDecode).is_err());
    }
}
