//! [`FutureSet`]: the set type of [`wait`](crate::wait)'s result, hashed by
//! each future's identity with [`IdHasher`].
//!
//! A future hashes as its cell's address, which no attacker chooses, so a
//! seeded hash (std's SipHash, about 100 instructions per insert here) buys
//! nothing: [`IdHasher`] is one multiply and a fold. `wait` inserts every
//! future it is given, so this is most of what the call costs per future
//! beyond the waiter itself.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use concurrent_futures_core::Future;

/// A set of futures, hashed by identity ([`IdHasher`]): the type of
/// [`DoneAndNotDone`](crate::DoneAndNotDone)'s fields.
///
/// It is a `std` [`HashSet`] with another hasher, so everything a
/// `HashSet` does works; make an empty one with `FutureSet::default()`.
///
/// # Examples
///
/// ```
/// use concurrent_futures::{Future, FutureSet};
///
/// let a = Future::<u8>::new();
/// let mut set = FutureSet::default();
/// assert!(set.insert(a.clone()));
/// assert!(!set.insert(a.clone())); // the same future
/// assert!(set.insert(Future::new())); // another one
/// assert!(set.contains(&a));
/// ```
pub type FutureSet<T> = HashSet<Future<T>, BuildIdHasher>;

/// Builds an [`IdHasher`]; the hasher of [`FutureSet`].
pub type BuildIdHasher = BuildHasherDefault<IdHasher>;

/// A hasher for identities (addresses): the full 128-bit product with a
/// 64-bit odd constant, folded, so both halves of the address reach both
/// the low bits a table indexes with (a plain multiply keeps the zero low
/// bits of an aligned address) and the high bits it tags entries with.
/// Not seeded: for keys no attacker chooses.
///
/// # Examples
///
/// ```
/// use std::hash::{BuildHasher, Hasher};
/// use concurrent_futures::BuildIdHasher;
///
/// let mut h = BuildIdHasher::default().build_hasher();
/// h.write_usize(0x7f00_0000_1040);
/// let once = h.finish();
/// let mut h = BuildIdHasher::default().build_hasher();
/// h.write_usize(0x7f00_0000_1040);
/// assert_eq!(h.finish(), once); // no seed: the same everywhere
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    /// Byte by byte (only for keys that are not one integer; a future
    /// writes one `u32`): each byte is mixed into the state as an integer.
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    /// Mixes `n` into the state: one full multiply, folded.
    #[inline]
    fn write_u64(&mut self, n: u64) {
        let p = u128::from(self.0 ^ n) * 0x9e37_79b9_7f4a_7c15;
        self.0 = (p as u64) ^ ((p >> 64) as u64);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// The low 6 bits (a table's index) and the top 7 (its tag) of the
    /// hashes of 64 addresses 64 bytes apart.
    fn spread(bits: impl Fn(u64) -> u64) -> usize {
        (0..64u64)
            .map(|i| {
                let mut h = IdHasher::default();
                h.write_usize((0x7f00_0000_1000 + i * 64) as usize);
                bits(h.finish())
            })
            .collect::<HashSet<u64>>()
            .len()
    }

    #[test]
    fn aligned_addresses_spread_over_low_and_high_bits() {
        let low = spread(|h| h & 63);
        assert!(low > 32, "only {low} of 64 low-bit buckets used");
        let high = spread(|h| h >> 57);
        assert!(high > 32, "only {high} of 128 top-bit tags used");
    }

    #[test]
    fn bytes_in_another_order_hash_apart() {
        let hash = |bytes: &[u8]| {
            let mut h = IdHasher::default();
            h.write(bytes);
            h.finish()
        };
        assert_ne!(hash(b"ab"), hash(b"ba"));
        assert_ne!(hash(b"a"), hash(b"a\0"));
    }

    #[test]
    fn a_future_set_tells_futures_apart_by_identity() {
        let fs: Vec<Future<u8>> = (0..1000).map(|_| Future::new()).collect();
        let mut set = FutureSet::default();
        for f in &fs {
            assert!(set.insert(f.clone()));
        }
        for f in &fs {
            assert!(!set.insert(f.clone()), "inserted twice");
        }
        assert_eq!(set.len(), 1000);
        assert!(!set.contains(&Future::new()));
    }
}
