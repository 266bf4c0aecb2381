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

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Lines inside fenced code blocks of `///` and `//!` comments, with their
/// line numbers.
fn doc_code_lines(source: &str) -> Vec<(usize, &str)> {
    let mut in_code = false;
    let mut out = Vec::new();
    for (i, line) in source.lines().enumerate() {
        let trimmed = line.trim_start();
        let Some(body) = trimmed
            .strip_prefix("///")
            .or_else(|| trimmed.strip_prefix("//!"))
        else {
            in_code = false;
            continue;
        };
        if body.trim_start().starts_with("```") {
            in_code = !in_code;
        } else if in_code {
            out.push((i + 1, line));
        }
    }
    out
}

/// The facade re-exports every item of the sub-crates, and its pages show
/// their docs: an example there that imports a sub-crate does not build
/// for a user who depends on `concurrent-futures` alone. Each sub-crate's
/// own crate page (its `lib.rs`) may name itself, but Slurm's, which the
/// facade shows as its `slurm` module.
#[test]
fn doc_examples_import_the_facade() {
    let mut offenders = Vec::new();
    for krate in ["futures-core", "pool", "wait", "slurm"] {
        let src = root().join("crates").join(krate).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        // Slurm's crate page is also the facade's `slurm` module page.
        let own_page = (krate != "slurm").then(|| src.join("lib.rs"));
        for file in files.iter().filter(|f| Some(*f) != own_page.as_ref()) {
            let text = read(file);
            for (n, line) in doc_code_lines(&text) {
                let sub = ["core", "pool", "wait", "slurm"]
                    .iter()
                    .any(|c| line.contains(&format!("concurrent_futures_{c}::")));
                if sub {
                    offenders.push(format!("{}:{n}: {}", file.display(), line.trim()));
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "doc examples import a sub-crate; write `concurrent_futures::...` \
         (`concurrent_futures::slurm::...` for the Slurm crate) instead:\n{}",
        offenders.join("\n")
    );
}
