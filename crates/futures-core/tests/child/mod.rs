//! Running one test of this binary in a child process, for cases whose
//! failure is an abort or whose evidence is the process's stderr.

use std::io::Read;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Set in the child, so the test runs its body instead of spawning again.
const CHILD_ENV: &str = "CF_CORE_TEST_CHILD";

/// How long a child may run; a correct one takes well under a second.
const LIMIT: Duration = Duration::from_secs(30);

/// Runs `child` here if this process is the child for `test` and returns
/// `None`; otherwise re-runs this test binary on `test` alone, checks that
/// it passed within [`LIMIT`] (killing it past that), and returns its
/// stderr.
pub(crate) fn stderr_of_child(test: &str, child: fn()) -> Option<String> {
    if std::env::var_os(CHILD_ENV).is_some() {
        child();
        return None;
    }
    let mut proc = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read stderr on a thread, so a child writing more than a pipe holds
    // cannot block on us while we poll for its exit.
    let mut pipe = proc.stderr.take().unwrap();
    let reader = thread::spawn(move || {
        let mut stderr = String::new();
        let _ = pipe.read_to_string(&mut stderr);
        stderr
    });
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Some(status) = proc.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            proc.kill().unwrap();
            let _ = proc.wait();
            let stderr = reader.join().unwrap();
            panic!("child test {test} did not finish within {LIMIT:?}:\n{stderr}");
        }
        thread::sleep(Duration::from_millis(10));
    };
    let stderr = reader.join().unwrap();
    assert!(
        status.success(),
        "child test {test} failed ({status}):\n{stderr}"
    );
    Some(stderr)
}
