//! The copies that make every crate's `cargo package` tarball self-contained
//! stay in step with the repository's originals.

use std::path::{Path, PathBuf};

const CRATES: [&str; 5] = [
    "concurrent-futures",
    "futures-core",
    "pool",
    "slurm",
    "wait",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The first fenced ```rust block of a Markdown page.
fn first_rust_block(page: &str) -> &str {
    let start = page.find("```rust\n").expect("a ```rust block") + "```rust\n".len();
    let len = page[start..]
        .find("```")
        .expect("the block's closing fence");
    &page[start..start + len]
}

#[test]
fn smoke() {
    assert!(root().join("crates/concurrent-futures/README.md").is_file());
}

#[test]
fn every_crate_ships_both_licenses_verbatim() {
    for name in ["LICENSE-MIT", "LICENSE-APACHE"] {
        let original = read(&root().join(name));
        for krate in CRATES {
            let copy = root().join("crates").join(krate).join(name);
            assert!(
                read(&copy) == original,
                "{} differs from ./{name}",
                copy.display()
            );
        }
    }
}

#[test]
fn every_crate_has_a_readme() {
    for krate in CRATES {
        let readme = read(&root().join("crates").join(krate).join("README.md"));
        assert!(
            readme.contains("LICENSE-MIT"),
            "crates/{krate}/README.md: no license section"
        );
    }
}

/// The facade's README (its crates.io page) opens with the repository
/// README's example, so the first thing a user reads is the same on both.
#[test]
fn facade_readme_example_is_the_repository_readme_example() {
    let repo = read(&root().join("README.md"));
    let facade = read(&root().join("crates/concurrent-futures/README.md"));
    assert_eq!(first_rust_block(&facade), first_rust_block(&repo));
}
