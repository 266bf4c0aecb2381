//! Examples and benchmarks live in examples/ and benches/.
//!
//! This package is not published. Its library holds the doctests of the
//! repository's pages, which sit outside every published crate: the
//! facade's tarball must build without them.

/// The README's examples, run as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The Python migration guide's examples, run as doctests so they match the code.
#[cfg(doctest)]
#[doc = include_str!("../docs/python-migration.md")]
pub struct MigrationGuideDoctests;

/// The cluster page's examples (`no_run`: they need a Slurm cluster), built
/// as doctests so they match the code.
#[cfg(doctest)]
#[doc = include_str!("../docs/cluster.md")]
pub struct ClusterDoctests;
