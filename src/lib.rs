//! Examples and benchmarks live in examples/ and benches/.
