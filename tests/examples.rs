//! Runs every example in `examples/` (cargo builds them before the tests) and
//! checks that each exits 0 within its time bound, so no example rots.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `target/<profile>/examples`, found from this test binary's own path
/// (`target/<profile>/deps/examples-<hash>`).
fn examples_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target dir")
        .join("examples")
}

/// Examples that need a feature of this package (`required-features`):
/// cargo builds them only with it.
const NEEDS_FEATURE: [(&str, bool); 1] = [("tracing", cfg!(feature = "tracing"))];

/// The example names: every `examples/*.rs` that cargo built.
fn example_names() -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("examples/ exists")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".rs").map(str::to_owned)
        })
        .filter(|name| {
            let unbuilt = NEEDS_FEATURE.iter().any(|&(n, on)| n == name && !on);
            if unbuilt {
                println!("example {name} skipped: it needs `--features {name}`");
            }
            !unbuilt
        })
        .collect();
    names.sort();
    names
}

/// Runs one example, killing it if it exceeds `bound`.
fn run(name: &str, bound: Duration) -> Result<String, String> {
    let path = examples_dir().join(name);
    let mut child = Command::new(&path)
        .env("CF_EXAMPLE_QUICK", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!(
                "cannot start {}: {e} (examples are built by `cargo test --workspace`; \
                 with `--test examples` alone, run `cargo build --examples` first)",
                path.display()
            )
        })?;
    let start = Instant::now();
    loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(_) => break,
            None if start.elapsed() > bound => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "example {name} still running after {bound:?}: killed"
                ));
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The Slurm example needs a cluster: without one it exits 2 and says
    // how to start the local one (ci/slurm-test.sh runs it with one).
    let no_service =
        name == "slurm" && out.status.code() == Some(2) && stderr.contains("ci/slurm.sh start");
    if out.status.success() {
        Ok(stdout)
    } else if no_service {
        Ok(stderr.into_owned())
    } else {
        Err(format!(
            "example {name} failed ({}):\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

#[test]
fn smoke() {
    assert!(example_names().contains(&"showcase".to_string()));
}

#[test]
fn every_example_runs() {
    let mut failures = Vec::new();
    for name in example_names() {
        match run(&name, Duration::from_secs(120)) {
            Ok(out) => assert!(!out.trim().is_empty(), "example {name} printed nothing"),
            Err(e) => failures.push(e),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
