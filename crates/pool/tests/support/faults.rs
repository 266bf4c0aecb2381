//! Serde types that fail, panic or abort at one stage each, and a byte blob
//! that serializes as one byte string.

#![allow(dead_code)]

use serde::de::{self, Deserializer, Visitor};
use serde::ser::{self, Serializer};
use serde::{Deserialize, Serialize};

/// Fails to serialize (in whichever process serializes it).
#[derive(Debug)]
pub(crate) struct FailSer;

impl Serialize for FailSer {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(ser::Error::custom("FailSer refuses to serialize"))
    }
}

impl<'de> Deserialize<'de> for FailSer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <()>::deserialize(d).map(|()| FailSer)
    }
}

/// Serializes as `()`, fails to deserialize.
#[derive(Debug)]
pub(crate) struct FailDe;

impl Serialize for FailDe {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ().serialize(s)
    }
}

impl<'de> Deserialize<'de> for FailDe {
    fn deserialize<D: Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Err(de::Error::custom("FailDe refuses to deserialize"))
    }
}

/// Serializes as `()`, panics while deserializing.
#[derive(Debug)]
pub(crate) struct PanicDe;

impl Serialize for PanicDe {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ().serialize(s)
    }
}

impl<'de> Deserialize<'de> for PanicDe {
    fn deserialize<D: Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        panic!("PanicDe panics while deserializing")
    }
}

/// Serializes as `()`, aborts the process while deserializing (used as an
/// argument: only the worker deserializes it).
#[derive(Debug)]
pub(crate) struct AbortDe;

impl Serialize for AbortDe {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ().serialize(s)
    }
}

impl<'de> Deserialize<'de> for AbortDe {
    fn deserialize<D: Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        std::process::abort()
    }
}

/// Aborts the process while serializing (used as a result: only the
/// worker serializes it).
#[derive(Debug)]
pub(crate) struct AbortSer;

impl Serialize for AbortSer {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        std::process::abort()
    }
}

impl<'de> Deserialize<'de> for AbortSer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <()>::deserialize(d).map(|()| AbortSer)
    }
}

/// Bytes that serialize as one byte string (a `memcpy`, not a sequence of
/// 50 million `u8`s).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Blob(pub(crate) Vec<u8>);

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Blob;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Blob, E> {
                Ok(Blob(v.to_vec()))
            }
            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Blob, E> {
                Ok(Blob(v))
            }
        }
        d.deserialize_byte_buf(V)
    }
}

pub(crate) fn blob_of(len: usize, seed: u8) -> Blob {
    Blob(
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect(),
    )
}

/// Returns a blob of the same length with every byte plus one.
pub(crate) fn bump_blob(b: Blob) -> Blob {
    Blob(b.0.into_iter().map(|x| x.wrapping_add(1)).collect())
}
